"""RecordedTuner (`component.py`): TFX's Tuner, recording every trial and the chosen values in
ML Metadata (`executor.py`). `keys` names what it records and imports nothing heavy (the run
summary reads it without TFX)."""
