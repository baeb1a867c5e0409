-- The negative share with off-topic reviews set aside, the way Steam's score leaves out
-- "off-topic review activity", next to the raw one: per off-topic classifier version (one that
-- answers "about the game", see `asaas train offtopic`), product, period. Negatives come from
-- the reviews' own labels (Steam: the recommend flag); off-topic means the version predicted
-- "not about the game" (label_predictions, label_name 'about_game', predicted 0). Only reviews
-- the version scored count.
--   freq, period_start                 as in product_timeline (weeks start on Monday)
--   n_reviews, n_offtopic              reviews scored, of which predicted off-topic
--   offtopic_share                     n_offtopic / n_reviews (raw classify-and-count; the
--                                      corrected share of an alert is in `asaas alerts show`)
--   observed_negative_share            negatives among all labelled reviews, 95% Wilson
--   on_topic_negative_share            negatives among the labelled reviews about the game,
--                                      95% Wilson interval: the share with off-topic reviews
--                                      set aside
{% from "macros.sql" import wilson_high, wilson_low %}
CREATE OR REPLACE VIEW offtopic_timeline AS
WITH judged AS (
    SELECT lp.model_version_id, r.product_id, r.dataset, r.reviewed_at, r.label,
           CASE WHEN lp.predicted = 0 THEN 1 ELSE 0 END AS off
    FROM label_predictions lp
    JOIN reviews r ON r.id = lp.review_id
    WHERE lp.label_name = 'about_game' AND r.product_id IS NOT NULL
      AND r.reviewed_at IS NOT NULL
),
periods AS (
    SELECT model_version_id, product_id, dataset, 'day' AS freq,
           CAST(date_trunc('day', reviewed_at) AS DATE) AS period_start, label, off FROM judged
    UNION ALL
    SELECT model_version_id, product_id, dataset, 'week' AS freq,
           CAST(date_trunc('week', reviewed_at) AS DATE) AS period_start, label, off FROM judged
    UNION ALL
    SELECT model_version_id, product_id, dataset, 'month' AS freq,
           CAST(date_trunc('month', reviewed_at) AS DATE) AS period_start, label, off FROM judged
),
counts AS (
    SELECT model_version_id, product_id, dataset, freq, period_start,
           COUNT(*) AS n_reviews,
           SUM(off) AS n_offtopic,
           COUNT(label) AS n_labelled,
           SUM(CASE WHEN label = 0 THEN 1 ELSE 0 END) AS n_negative,
           SUM(CASE WHEN off = 0 AND label IS NOT NULL THEN 1 ELSE 0 END) AS n_on_topic_labelled,
           SUM(CASE WHEN off = 0 AND label = 0 THEN 1 ELSE 0 END) AS n_on_topic_negative
    FROM periods
    GROUP BY model_version_id, product_id, dataset, freq, period_start
),
shares AS (
    SELECT c.*,
           c.n_labelled * 1.0 AS nl_f,
           c.n_on_topic_labelled * 1.0 AS no_f,
           CASE WHEN c.n_labelled > 0 THEN c.n_negative * 1.0 / c.n_labelled END AS obs,
           CASE WHEN c.n_on_topic_labelled > 0
                THEN c.n_on_topic_negative * 1.0 / c.n_on_topic_labelled END AS on_topic
    FROM counts c
)
SELECT
    s.model_version_id, n.model, n.version, n.model_label, n.is_latest,
    s.product_id, p.external_id AS product, p.name AS product_name, s.dataset,
    s.freq, s.period_start, s.n_reviews, s.n_offtopic,
    s.n_offtopic * 1.0 / s.n_reviews AS offtopic_share,
    s.n_labelled, s.n_negative,
    s.obs AS observed_negative_share,
    {{ wilson_low("s.obs", "s.nl_f") }} AS observed_ci_low,
    {{ wilson_high("s.obs", "s.nl_f") }} AS observed_ci_high,
    s.n_on_topic_labelled, s.n_on_topic_negative,
    s.on_topic AS on_topic_negative_share,
    {{ wilson_low("s.on_topic", "s.no_f") }} AS on_topic_ci_low,
    {{ wilson_high("s.on_topic", "s.no_f") }} AS on_topic_ci_high
FROM shares s
JOIN model_version_names n ON n.model_version_id = s.model_version_id
JOIN products p ON p.id = s.product_id;
