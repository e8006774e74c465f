"""The transcription worker: finds uploaded recordings, downloads their
audio, writes the transcript back.

    STRONGROOM_URL=http://127.0.0.1:8200 STRONGROOM_WORKER_KEY=sr_… python -m legal_transcription.worker

It is an API key with the scope ``records:decrypt`` and a grant on each
matter it serves: it sees those matters only, every download carries a
justification and is audited as a reveal by this key, and the transcript is
sealed by Strongroom the moment it is written (with a redacted rendition for
paralegals). Nothing is decrypted or stored on the worker's disk.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from strongroom import Client

COLLECTION = "recordings"
REASON = "automatic transcription of a newly uploaded recording"
PURPOSE = "case_work"

Transcriber = Callable[[bytes], str]


def stand_in_transcriber(audio: bytes) -> str:
    """Where a speech-to-text model goes (Whisper, a vendor's API…)."""
    return f"[{len(audio)} bytes of audio: plug a speech-to-text model in here]"


def transcribe_pending(worker: Client, transcribe: Transcriber = stand_in_transcriber) -> list[str]:
    """Transcribes every recording still marked ``uploaded``; returns their ids."""
    done = []
    for recording in list(worker.records.list(COLLECTION, where="status:uploaded")):
        audio = worker.blobs.read(COLLECTION, recording.id, "audio", reason=REASON, purpose=PURPOSE)
        worker.records.update(COLLECTION, recording.id, {"transcript": transcribe(audio), "status": "transcribed"})
        done.append(recording.id)
    return done


if __name__ == "__main__":
    with Client(os.environ["STRONGROOM_URL"], api_key=os.environ["STRONGROOM_WORKER_KEY"]) as client:
        print("transcribed:", ", ".join(transcribe_pending(client)) or "nothing pending")
