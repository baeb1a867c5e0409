-- How much of each labelled split a model version has scored: the labelled reviews in the
-- languages the version reads (reviews of unknown language always count) against those it has a
-- prediction for, for every dataset and split it has predictions in. A run stopped half-way, or
-- a --limit sample, shows here as coverage < 1: the metrics of an incomplete row describe a
-- pseudo-random sample of the split (asaas scores in content-hash order), not all of it.
CREATE OR REPLACE VIEW coverage AS
WITH scored AS (
    SELECT DISTINCT model_version_id, dataset, split FROM labelled_predictions
),
in_scope AS (
    SELECT sc.model_version_id, r.id AS review_id, sc.dataset, sc.split
    FROM scored sc
    JOIN model_version_names n ON n.model_version_id = sc.model_version_id
    JOIN reviews r
      ON r.dataset = sc.dataset AND r.split = sc.split AND r.label IS NOT NULL
     AND (r.language IS NULL
          OR (n.languages IS NULL AND r.language IN ('english', 'en'))
          OR POSITION(',' || r.language || ',' IN ',' || n.languages || ',') > 0)
)
SELECT
    s.model_version_id, s.dataset, s.split,
    COUNT(*) AS n_labelled,
    COUNT(p.review_id) AS n_scored,
    COUNT(p.review_id) * 1.0 / COUNT(*) AS coverage,
    COUNT(p.review_id) = COUNT(*) AS complete
FROM in_scope s
LEFT JOIN predictions p ON p.review_id = s.review_id AND p.model_version_id = s.model_version_id
GROUP BY s.model_version_id, s.dataset, s.split;
