"""Feedback over time: per-product sentiment series, product events, alerts and responsiveness.

The series themselves are SQL views (``sql/100_*`` .. ``sql/119_*``: ``product_timeline``,
``prevalence_calibration``, ``timeline``), so any SQL client sees the numbers; ``series`` finds
products and model versions and reads one product's series from them for the CLI and the HTML
report.
"""
