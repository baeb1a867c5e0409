-- Every model version with its model name, a display label and whether it is the latest.
CREATE OR REPLACE VIEW model_version_names AS
SELECT
    v.id AS model_version_id,
    m.name AS model,
    v.version,
    m.name || ' v' || CAST(v.version AS VARCHAR(12)) AS model_label,
    v.kind,
    v.train_dataset,
    v.created_at,
    v.version = MAX(v.version) OVER (PARTITION BY v.model_id) AS is_latest
FROM model_versions v
JOIN models m ON m.id = v.model_id;
