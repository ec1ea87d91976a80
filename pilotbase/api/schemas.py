"""Pydantic models of the API's bodies: they validate requests and feed the OpenAPI document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorDetail(BaseModel):
    code: str = Field(examples=["validation_error"])
    message: str
    fields: dict[str, list[str]] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class FirmRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    status: Literal["pending", "verified", "suspended"]


class MeOut(BaseModel):
    id: int
    email: str
    name: str
    role: Literal["firm", "operator", "official", "admin"]
    firm: FirmRef | None


class StrictBody(BaseModel):
    """Base for request bodies: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
