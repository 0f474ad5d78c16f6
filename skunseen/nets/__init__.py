"""The torch and skorch seam of the engine."""
