"""Models: the registry of named, numbered versions; label mapping; HF and scikit-learn kinds."""
