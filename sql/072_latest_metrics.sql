-- Convenience: the headline metrics of the latest version of each model.
CREATE OR REPLACE VIEW latest_metrics AS
SELECT * FROM metrics WHERE is_latest;
