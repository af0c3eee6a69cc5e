"""What a RecordedTuner records (read by the run summary, `runs`, `lineage` and the report
without TFX)."""

# Custom properties of the best_hyperparameters artifact (scores as text: ML Metadata's SQLite
# store keeps a double property to 6 decimal places, and a loss can be 1e-05):
VALUES = 'tfzoo_values'  # JSON {name: value}: what the Trainer trains with
OBJECTIVE = 'tfzoo_objective'  # e.g. 'val_sparse_categorical_accuracy'
DIRECTION = 'tfzoo_direction'  # 'max' or 'min'
BEST_SCORE = 'tfzoo_best_score'
BEST_TRIAL = 'tfzoo_best_trial'
SEED_SCORE = 'tfzoo_seed_score'  # the first trial's: the seed's values (models/common/tuning.py)
SLICE = 'tfzoo_slice'  # what each trial trained on and was scored on, in words
# Custom properties of the tuner_results artifact:
TRIALS = 'tfzoo_trials'  # JSON [{trial, values, score, status, seconds}], in the order run
TRIAL_COUNT = 'tfzoo_trial_count'
# Custom property of the Trainer's Model: the Tuner's values it was given (JSON)
MODEL_HYPERPARAMETERS = 'tfzoo_hyperparameters'
