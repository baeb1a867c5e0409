-- Sentiment over time per model version, product, period and language: how many reviews, what
-- their labels say, and what the model says, raw and corrected for the model's errors.
--   freq, period_start, language   as in product_timeline (weeks start on Monday)
--   observed_negative_share        from the reviews' labels (e.g. Steam's recommend flag), over
--                                  the reviews this version scored, 95% Wilson interval
--   predicted_negative_share       classify-and-count: q = share the model labels negative,
--                                  95% Wilson interval
--   corrected_negative_share       adjusted classify-and-count (Forman 2008), from the version's
--                                  error rates on held-out labelled reviews of the same dataset
--                                  and language (view prevalence_calibration):
--                                    s = P(pred neg | neg), f = P(pred neg | pos),
--                                    pi = (q - f) / (s - f), clipped to [0, 1]
--                                  95% interval by the delta method, with the sampling error of
--                                  q (n reviews) and of s and f (N_neg, N_pos labelled reviews):
--                                    Var(pi) = [q~(1-q~)/(n+z^2) + pi^2 s(1-s)/N_neg
--                                               + (1-pi)^2 f(1-f)/N_pos] / (s-f)^2
--                                  pi +- 1.96 sd, clipped to [0, 1]. The q term uses the
--                                  Agresti-Coull share q~ = (k + z^2/2) / (n + z^2) (k reviews
--                                  called negative, z = 1.96): with the plain q(1-q)/n a period
--                                  where the model calls no review negative got an interval of
--                                  width ~0, and on Steam the intervals of a Steam-trained model
--                                  covered the true share in 78% of product-months instead of
--                                  95% (bench/README.md, prevalence). NULL, with corrected_reason,
--                                  when there are no labelled reviews of either class to measure
--                                  s and f on, or when s - f < 0.1 (the division would blow the
--                                  model's noise up into nonsense).
--   mean_prob_positive             mean P(positive); 1 - it is the probability-average estimate
-- The correction assumes the model errs at the same rates in every period (the rates do not
-- drift with time or product); bench/prevalence_bench.py measures how well that holds on Steam.
{% from "macros.sql" import wald_high, wald_low, wilson_high, wilson_low, z95_squared %}
CREATE OR REPLACE VIEW timeline AS
WITH scored AS (
    SELECT p.model_version_id, r.product_id, r.dataset, r.language, r.reviewed_at,
           r.label AS y_true, p.label AS y_pred, p.prob_positive
    FROM predictions p
    JOIN reviews r ON r.id = p.review_id
    WHERE r.product_id IS NOT NULL AND r.reviewed_at IS NOT NULL
),
by_language AS (
    SELECT model_version_id, product_id, dataset, 'all' AS language, reviewed_at, y_true, y_pred,
           prob_positive
    FROM scored
    UNION ALL
    SELECT model_version_id, product_id, dataset, language, reviewed_at, y_true, y_pred,
           prob_positive
    FROM scored WHERE language IS NOT NULL
),
periods AS (
    SELECT model_version_id, product_id, dataset, language, 'day' AS freq,
           CAST(date_trunc('day', reviewed_at) AS DATE) AS period_start, y_true, y_pred,
           prob_positive
    FROM by_language
    UNION ALL
    SELECT model_version_id, product_id, dataset, language, 'week' AS freq,
           CAST(date_trunc('week', reviewed_at) AS DATE) AS period_start, y_true, y_pred,
           prob_positive
    FROM by_language
    UNION ALL
    SELECT model_version_id, product_id, dataset, language, 'month' AS freq,
           CAST(date_trunc('month', reviewed_at) AS DATE) AS period_start, y_true, y_pred,
           prob_positive
    FROM by_language
),
counts AS (
    SELECT model_version_id, product_id, dataset, language, freq, period_start,
           COUNT(*) AS n_reviews,
           SUM(CASE WHEN y_pred = 0 THEN 1 ELSE 0 END) AS n_predicted_negative,
           AVG(prob_positive) AS mean_prob_positive,
           COUNT(y_true) AS n_labelled,
           SUM(CASE WHEN y_true = 0 THEN 1 ELSE 0 END) AS n_negative
    FROM periods
    GROUP BY model_version_id, product_id, dataset, language, freq, period_start
),
rates AS (
    SELECT c.*,
           c.n_reviews * 1.0 AS n_f,
           c.n_labelled * 1.0 AS nl_f,
           c.n_predicted_negative * 1.0 / c.n_reviews AS q,
           CASE WHEN c.n_labelled > 0 THEN c.n_negative * 1.0 / c.n_labelled END AS obs,
           cal.n_negative AS cal_n_negative,
           cal.n_positive AS cal_n_positive,
           cal.neg_hit_rate AS s,
           cal.neg_false_alarm_rate AS f,
           cal.separation AS sep
    FROM counts c
    LEFT JOIN prevalence_calibration cal
        ON cal.model_version_id = c.model_version_id AND cal.dataset = c.dataset
       AND cal.language = c.language
),
adjusted AS (
    SELECT r.*,
           CASE WHEN r.sep >= 0.1 THEN GREATEST(0.0, LEAST(1.0, (r.q - r.f) / r.sep)) END AS pi,
           (r.n_predicted_negative + {{ z95_squared }} / 2) / (r.n_f + {{ z95_squared }}) AS q_ac
    FROM rates r
),
spread AS (
    SELECT a.*,
           SQRT((a.q_ac * (1 - a.q_ac) / (a.n_f + {{ z95_squared }})
                 + a.pi * a.pi * a.s * (1 - a.s) / a.cal_n_negative
                 + (1 - a.pi) * (1 - a.pi) * a.f * (1 - a.f) / a.cal_n_positive)
                / (a.sep * a.sep)) AS pi_sd
    FROM adjusted a
)
SELECT
    x.model_version_id, n.model, n.version, n.model_label, n.is_latest,
    x.product_id, p.external_id AS product, p.name AS product_name, x.dataset, x.language,
    x.freq, x.period_start, x.n_reviews, x.n_labelled, x.n_negative,
    x.obs AS observed_negative_share,
    {{ wilson_low("x.obs", "x.nl_f") }} AS observed_ci_low,
    {{ wilson_high("x.obs", "x.nl_f") }} AS observed_ci_high,
    x.n_predicted_negative,
    x.q AS predicted_negative_share,
    {{ wilson_low("x.q", "x.n_f") }} AS predicted_ci_low,
    {{ wilson_high("x.q", "x.n_f") }} AS predicted_ci_high,
    x.pi AS corrected_negative_share,
    {{ wald_low("x.pi", "x.pi_sd") }} AS corrected_ci_low,
    {{ wald_high("x.pi", "x.pi_sd") }} AS corrected_ci_high,
    x.mean_prob_positive,
    x.s AS neg_hit_rate,
    x.f AS neg_false_alarm_rate,
    x.cal_n_negative AS calibration_n_negative,
    x.cal_n_positive AS calibration_n_positive,
    CASE
        WHEN x.cal_n_negative IS NULL OR x.cal_n_negative = 0
            THEN 'no held-out labelled negatives to measure the model''s error rates on'
        WHEN x.cal_n_positive = 0
            THEN 'no held-out labelled positives to measure the model''s error rates on'
        WHEN x.sep < 0.1
            THEN 's - f < 0.1: the model barely tells negative from positive, no correction'
    END AS corrected_reason
FROM spread x
JOIN model_version_names n ON n.model_version_id = x.model_version_id
JOIN products p ON p.id = x.product_id;
