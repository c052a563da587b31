"""Runs the Datadog Agent's OpenMetrics check (datadog-checks-base, the Agent's own check code) once on the
instance given as JSON, and prints the name of every metric it submits, one per line, as the Agent would
send them: the end-to-end test's view of the Dapr sidecars' metrics in Datadog."""
import json
import sys

from datadog_checks.base.checks.openmetrics.v2.base import OpenMetricsBaseCheckV2
from datadog_checks.base.stubs import aggregator

instance = json.loads(sys.argv[1])
error = OpenMetricsBaseCheckV2("openmetrics", {}, [instance]).run()
if error:
    sys.exit(error)
print("\n".join(sorted(aggregator.metric_names)))
