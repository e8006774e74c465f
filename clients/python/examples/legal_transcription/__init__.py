"""Legal transcription with Strongroom (FastAPI): see README.md."""
