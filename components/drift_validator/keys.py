"""What the drift validator records in ML Metadata (read by the run summary without TFX)."""

ACCEPT_DRIFT = 'accept_drift'  # execution parameter: 1 = --accept-drift
# Custom properties of the ExampleAnomalies artifact it writes:
VERDICT = 'drift_verdict'  # one of the verdicts below
DETAILS = 'drift_details'  # each compared feature: distance vs threshold, in one line
BASELINE = 'drift_baseline'  # the baseline statistics' URI ('' when there was none)

PASSED = 'passed'
ACCEPTED = 'accepted'  # drifted, trained on anyway with --accept-drift
NO_BASELINE = 'no baseline'
