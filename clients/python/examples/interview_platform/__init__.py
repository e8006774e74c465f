"""An interview platform with Strongroom (Flask): see README.md."""
