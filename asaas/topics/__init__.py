"""Topics of genuine complaints: what a product's negative reviews are about, and how each
topic's share of the negatives moves over time (``asaas topics``).

- ``cluster``: the method, on a matrix of sentence embeddings: average-linkage agglomerative
  clustering on cosine distance cut at a distance (no fixed number of topics), keywords by
  class-based TF-IDF, representative reviews nearest each topic's centre, and assignment of
  later reviews to the nearest centre;
- ``runs``: reading a product's negatives (labels or a model's predictions), embedding them
  (MiniLM for English, e5 otherwise, through asaas' embedding cache), storing a run
  (``topic_runs``, ``topics``, ``review_topics``) and reading a topic's daily series, which
  ``asaas events effects --topic`` measures around events.

Judged on planted complaints (bench/topics_bench.py): reviews about one complaint planted in a
30-day window of a real product come out as their own topic in 12, 16 and 18 of 20 runs with
10, 20 and 40 planted reviews.
"""
