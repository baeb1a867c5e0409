-- McNemar's test for every pair of model versions on the labelled reviews both scored (n_shared,
-- with each version's accuracy on exactly those reviews, so the two are compared fairly even
-- when one has scored more of the split than the other):
-- b = A right and B wrong, c = A wrong and B right; statistic (|b - c| - 1)^2 / (b + c) with
-- Edwards' continuity correction; p-value from the chi-square distribution with 1 degree of
-- freedom, erfc(sqrt(statistic / 2)), using the Numerical Recipes erfc approximation
-- (relative error below 1.2e-7: plain SQL has no erfc).
CREATE OR REPLACE VIEW mcnemar AS
WITH pairs AS (
    SELECT a.model_version_id AS model_version_id_a, b.model_version_id AS model_version_id_b,
           a.dataset, a.split,
           COUNT(*) AS n_shared,
           CAST(SUM(CASE WHEN a.y_pred = a.y_true THEN 1 ELSE 0 END) AS BIGINT) AS right_a,
           CAST(SUM(CASE WHEN b.y_pred = b.y_true THEN 1 ELSE 0 END) AS BIGINT) AS right_b,
           CAST(SUM(CASE WHEN a.y_pred = a.y_true AND b.y_pred <> b.y_true THEN 1 ELSE 0 END)
                AS BIGINT) AS b,
           CAST(SUM(CASE WHEN a.y_pred <> a.y_true AND b.y_pred = b.y_true THEN 1 ELSE 0 END)
                AS BIGINT) AS c
    FROM labelled_predictions a
    JOIN labelled_predictions b
      ON b.review_id = a.review_id AND b.model_version_id > a.model_version_id
    GROUP BY a.model_version_id, b.model_version_id, a.dataset, a.split
),
stat AS (
    SELECT *,
        CASE WHEN b + c > 0
             THEN (ABS(b - c) - 1.0) * (ABS(b - c) - 1.0) / (b + c) END AS raw_statistic
    FROM pairs
),
erfc_in AS (
    SELECT *,
        CASE WHEN b + c > 0 THEN GREATEST(raw_statistic, 0.0) END AS statistic,
        SQRT(GREATEST(COALESCE(raw_statistic, 0.0), 0.0) / 2.0) AS x
    FROM stat
),
erfc_t AS (
    SELECT *, 1.0 / (1.0 + 0.5 * x) AS t FROM erfc_in
)
SELECT
    na.model AS model_a, na.version AS version_a, na.model_label AS model_label_a,
    nb.model AS model_b, nb.version AS version_b, nb.model_label AS model_label_b,
    e.model_version_id_a, e.model_version_id_b, e.dataset, e.split, e.n_shared,
    e.right_a * 1.0 / e.n_shared AS accuracy_a, e.right_b * 1.0 / e.n_shared AS accuracy_b,
    e.b, e.c,
    e.statistic,
    CASE WHEN e.b + e.c = 0 THEN NULL
         ELSE LEAST(1.0, e.t * EXP(-e.x * e.x - 1.26551223 + e.t * (1.00002368 + e.t * (0.37409196
              + e.t * (0.09678418 + e.t * (-0.18628806 + e.t * (0.27886807 + e.t * (-1.13520398
              + e.t * (1.48851587 + e.t * (-0.82215223 + e.t * 0.17087277)))))))))) END
        AS p_value,
    CASE WHEN e.b + e.c = 0 THEN 'the two versions are right and wrong on the same reviews' END
        AS reason
FROM erfc_t e
JOIN model_version_names na ON na.model_version_id = e.model_version_id_a
JOIN model_version_names nb ON nb.model_version_id = e.model_version_id_b;
