-- Each complaint topic's share of its product's negative reviews per period (`asaas topics`:
-- a run groups a period's negatives into topics and assigns the product's other negatives to
-- the nearest topic, topic 0 being "other"). One row per run, topic and period that has
-- negatives, zero counts included, so a topic's series has no gaps where the product had
-- complaints about something else.
--   freq, period_start   as in product_timeline (weeks start on Monday)
--   n_negative           the run's negative reviews in the period (every topic and other)
--   n_topic              of which in this topic; topic_share with a 95% Wilson interval
--   in_period            whether the period overlaps the run's clustered period
{% from "macros.sql" import wilson_high, wilson_low %}
CREATE OR REPLACE VIEW topic_shares AS
WITH assigned AS (
    SELECT rt.topic_run_id, rt.topic_no, r.reviewed_at
    FROM review_topics rt
    JOIN reviews r ON r.id = rt.review_id
    WHERE r.reviewed_at IS NOT NULL
),
periods AS (
    SELECT topic_run_id, topic_no, 'day' AS freq,
           CAST(date_trunc('day', reviewed_at) AS DATE) AS period_start FROM assigned
    UNION ALL
    SELECT topic_run_id, topic_no, 'week' AS freq,
           CAST(date_trunc('week', reviewed_at) AS DATE) AS period_start FROM assigned
    UNION ALL
    SELECT topic_run_id, topic_no, 'month' AS freq,
           CAST(date_trunc('month', reviewed_at) AS DATE) AS period_start FROM assigned
),
totals AS (
    SELECT topic_run_id, freq, period_start, COUNT(*) AS n_negative
    FROM periods GROUP BY topic_run_id, freq, period_start
),
per_topic AS (
    SELECT topic_run_id, topic_no, freq, period_start, COUNT(*) AS n_topic
    FROM periods GROUP BY topic_run_id, topic_no, freq, period_start
),
shares AS (
    SELECT t.topic_run_id, k.topic_no, k.keywords, t.freq, t.period_start, t.n_negative,
           COALESCE(x.n_topic, 0) AS n_topic,
           COALESCE(x.n_topic, 0) * 1.0 / t.n_negative AS share,
           t.n_negative * 1.0 AS n_f
    FROM totals t
    JOIN topics k ON k.topic_run_id = t.topic_run_id
    LEFT JOIN per_topic x ON x.topic_run_id = t.topic_run_id AND x.topic_no = k.topic_no
        AND x.freq = t.freq AND x.period_start = t.period_start
)
SELECT s.topic_run_id, s.topic_no, s.keywords, tr.product_id, p.external_id AS product,
       p.name AS product_name, tr.source, s.freq, s.period_start, s.n_negative, s.n_topic,
       s.share AS topic_share,
       {{ wilson_low("s.share", "s.n_f") }} AS ci_low,
       {{ wilson_high("s.share", "s.n_f") }} AS ci_high,
       (tr.period_start IS NULL OR s.period_start >= CAST(date_trunc(s.freq, tr.period_start)
                                                          AS DATE))
       AND (tr.period_end IS NULL OR s.period_start < tr.period_end) AS in_period
FROM shares s
JOIN topic_runs tr ON tr.id = s.topic_run_id
JOIN products p ON p.id = tr.product_id;
