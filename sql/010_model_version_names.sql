-- Every model version with its model name, a display label, whether it is the latest, how it is
-- scored (its recipe: tokens read, truncation, quantisation; one recipe per version), what it was
-- trained on, and the languages it reads (NULL: not recorded, taken as English plus reviews of
-- unknown language, as `asaas score` does).
CREATE OR REPLACE VIEW model_version_names AS
SELECT
    v.id AS model_version_id,
    m.name AS model,
    v.version,
    m.name || ' v' || CAST(v.version AS VARCHAR(12)) AS model_label,
    v.kind,
    CASE WHEN v.max_length IS NULL THEN 'whole review'
         ELSE CAST(v.max_length AS VARCHAR(12)) || ' ' || COALESCE(v.truncation, 'head')
              || COALESCE(' ' || v.quantize, '') END AS scoring,
    v.train_dataset,
    v.train_split,
    v.languages,
    v.created_at,
    v.version = MAX(v.version) OVER (PARTITION BY v.model_id) AS is_latest
FROM model_versions v
JOIN models m ON m.id = v.model_id;
