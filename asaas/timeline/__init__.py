"""Feedback over time: per-product sentiment series, product events, alerts and responsiveness.

- ``series``: a product's negative share per day, week or month (`asaas timeline`), read from
  the SQL views ``product_timeline`` and ``timeline`` (``sql/100_*`` .. ``sql/119_*``), so any
  SQL client sees the same numbers; ``page``: the same as an HTML page.
- ``daily``: reviews and negatives per product and day (the ``product_daily`` view), from the
  labels or a model's predictions: what effects, alerts and responsiveness analyse.
- ``products``: which product a user means; ``events``: what happened to it, and when;
  ``effects``: an event's effect on the negative share; ``intervals``: the shares' intervals.
- ``rules`` (the alert rules' numbers, an alert and its id), ``spikes`` (the daily rules),
  ``changepoints`` (shifts), ``alerts`` (both over every product, lookup by id), ``explain``
  (the words and reviews behind an alert); ``responsiveness``: answers and recoveries;
  ``marks``: events and alerts as the pages draw them.
"""
