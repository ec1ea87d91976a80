"""The chart geometry (pure Python) and its drawing as inline SVG by the Jinja macros."""

from __future__ import annotations

from datetime import date

from flask import render_template_string

from pilotbase import charts


def test_bars_scale_to_the_largest_value():
    chart = charts.bar_chart([("a", 10), ("b", 5), ("c", 0)], width=400, value_width=80)
    widths = [bar.width for bar in chart.bars]
    assert widths == [320.0, 160.0, 0.0]
    assert [bar.text for bar in chart.bars] == ["10", "5", "0"]
    assert chart.max_value == 10
    # each label sits above its own bar, and rows do not overlap
    tops = [bar.y for bar in chart.bars]
    assert tops == sorted(tops) and all(b.label_y < b.y for b in chart.bars)
    assert chart.height >= tops[-1] + chart.bar_height


def test_percentages_scale_to_a_fixed_maximum_and_format_their_values():
    chart = charts.bar_chart([("bay", 25.0), ("over", 130.0)], max_value=100, width=300, value_width=100,
                             fmt=lambda v: f"{v:.1f} %")
    assert chart.bars[0].width == round(200 * 25 / 130, 1)  # a value above the maximum stretches the scale
    assert chart.bars[0].text == "25.0 %"
    half = charts.bar_chart([("bay", 50.0)], max_value=100, width=300, value_width=100)
    assert half.bars[0].width == 100.0


def test_zero_and_missing_data_draw_empty_bars_without_dividing_by_zero():
    chart = charts.bar_chart([("a", 0), ("b", None), ("c", -3)])
    assert chart.empty and [b.width for b in chart.bars] == [0.0, 0.0, 0.0]
    assert charts.bar_chart([]).bars == () and charts.bar_chart([]).height > 0
    assert not charts.bar_chart([("a", 1)]).empty


def test_burn_up_maps_dates_to_x_in_order_and_actual_stops_at_today():
    points = [(date(2026, m, 28), float(m * 10) if m <= 5 else None, m * 100 / 12) for m in range(1, 13)]
    chart = charts.burn_up(points, start=(date(2026, 1, 1), 0.0), goal=100.0, today=(date(2026, 5, 20), 50.0),
                           projected=date(2026, 9, 1))
    xs = [p.x for p in chart.required]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)
    assert chart.required[0].x == chart.left  # the trajectory starts at the start date, on the axis
    assert chart.required[-1].x == chart.right
    assert len(chart.actual) == 5  # None after today draws nothing
    assert [p.x for p in chart.actual] == sorted(p.x for p in chart.actual)
    # larger values are higher up (smaller y), and the goal line is where the last required point is
    assert chart.actual[0].y > chart.actual[-1].y
    assert chart.goal_y == chart.required[-1].y
    # the projection runs from today's value to the goal on the projected date, inside the plot
    start, end = chart.projection
    assert chart.left < start.x < end.x < chart.right and end.y == chart.goal_y
    assert chart.today_x == start.x
    assert chart.actual_path.startswith("M") and chart.actual_path.count("L") == 4


def test_burn_up_axes_have_round_ticks_and_month_labels():
    points = [(date(2026, m, 28), None, m * 10.0) for m in range(1, 13)]
    chart = charts.burn_up(points, goal=120.0)
    assert [t.text for t in chart.y_ticks] == ["0", "20", "40", "60", "80", "100", "120"]
    ys = [t.at for t in chart.y_ticks]
    assert ys == sorted(ys, reverse=True) and ys[0] == chart.bottom
    assert chart.x_ticks[0].text == "2026-02"  # month starts inside the drawn range
    assert len(chart.x_ticks) <= 6
    assert [t.at for t in chart.x_ticks] == sorted(t.at for t in chart.x_ticks)
    assert chart.actual == () and chart.projection == ()


def test_a_projection_far_past_the_deadline_is_clipped_at_the_edge():
    points = [(date(2026, 1, 31), 1.0, 10.0), (date(2026, 12, 31), None, 100.0)]
    chart = charts.burn_up(points, goal=100.0, today=(date(2026, 1, 31), 1.0), projected=date(2040, 1, 1))
    start, end = chart.projection
    assert end.x == chart.right and end.y > chart.goal_y  # stopped before reaching the goal
    assert start.y > end.y


def test_empty_burn_up_and_zero_goal_do_not_fail():
    chart = charts.burn_up([], goal=0.0)
    assert chart.actual == () and chart.required == () and chart.y_ticks[0].text == "0"
    assert charts.nice_step(0) == 1.0 and charts.nice_step(7, 5) == 2 and charts.nice_step(1000) == 200


TEMPLATE = """{% from "dashboard/_charts.html" import bar_chart, burn_up with context %}
{{ bar_chart(chart, "c1", title, desc) }}{{ burn_up(line, "c2", title, desc) }}"""


def test_svg_has_title_description_and_escapes_labels(app):
    chart = charts.bar_chart([("<script>alert(1)</script>", 3), ("B & C", 1)])
    line = charts.burn_up([(date(2026, 1, 31), 1.0, 2.0)], goal=5.0)
    with app.test_request_context(headers={"Accept-Language": "en"}):
        html = render_template_string(TEMPLATE, chart=chart, line=line, title="Opened <b>", desc="3 of 5 \"opened\"")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "B &amp; C" in html and "Opened &lt;b&gt;" in html
    assert 'role="img" aria-labelledby="c1-title c1-desc"' in html
    assert '<title id="c1-title">' in html and '<desc id="c1-desc">3 of 5 &quot;opened&quot;</desc>' in html
    assert 'aria-labelledby="c2-title c2-desc"' in html
    assert "Required trajectory" in html and "Actual" in html  # the legend says which line is which
