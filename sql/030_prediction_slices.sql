-- labelled_predictions repeated once per slice: everything ('all'), each review-length bucket,
-- truncated / not truncated, and each language (reviews with a language recorded). Metric views
-- group by (slice_kind, slice), so one definition serves the headline numbers and every
-- breakdown.
CREATE OR REPLACE VIEW prediction_slices AS
SELECT lp.*, 'all' AS slice_kind, 'all' AS slice FROM labelled_predictions lp
UNION ALL
SELECT lp.*, 'length' AS slice_kind, lp.length_bucket AS slice FROM labelled_predictions lp
UNION ALL
SELECT lp.*, 'truncated' AS slice_kind,
       CASE WHEN lp.truncated IS NULL THEN 'no token limit'
            WHEN lp.truncated THEN 'truncated' ELSE 'not truncated' END AS slice
FROM labelled_predictions lp
UNION ALL
SELECT lp.*, 'language' AS slice_kind, lp.language AS slice
FROM labelled_predictions lp
WHERE lp.language IS NOT NULL;
