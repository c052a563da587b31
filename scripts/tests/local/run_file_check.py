"""Checks dapr.yaml (the Dapr CLI's multi-app run file) against scripts/local-up.sh: `run_file_check.py REPO_ROOT`.

The CLI cannot run here, so this reads the file as the CLI would (fields of its run-file schema,
paths resolved the way it resolves them) and checks that app ids, ports, config, resources and jars
agree with local-up's defaults and with the local Dapr Configuration. Exits 1 naming each mismatch.
"""

import pathlib
import re
import sys

import yaml

# Fields of the Dapr CLI's run file (RunFileConfig, and the yaml tags of RunConfig/SharedRunConfig).
TOP_FIELDS = {"version", "common", "apps", "name"}
SHARED_FIELDS = {
    "configFilePath", "appProtocol", "apiListenAddresses", "enableProfiling", "logLevel", "appMaxConcurrency",
    "placementHostAddress", "resourcesPath", "resourcesPaths", "appSSL", "maxBodySize", "readBufferSize",
    "enableAppHealthCheck", "appHealthCheckPath", "appHealthProbeInterval", "appHealthProbeTimeout",
    "appHealthThreshold", "enableApiLogging", "runtimePath", "env", "daprdLogDestination", "appLogDestination",
    "schedulerHostAddress",
}
APP_FIELDS = SHARED_FIELDS | {
    "appID", "appChannelAddress", "appPort", "daprHTTPPort", "daprGRPCPort", "profilePort", "command",
    "metricsPort", "unixDomainSocket", "daprInternalGRPCPort", "appDirPath",
    "containerImage", "containerImagePullPolicy", "createService",
}


def local_up_defaults(root):
    text = (root / "scripts/local-up.sh").read_text()
    return {k: int(v) for k, v in re.findall(r'^([A-Z_]+_PORT)="\$\{\1:-(\d+)\}"$', text, re.M)}


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    errors = []
    run_file = yaml.safe_load((root / "dapr.yaml").read_text())
    ports = local_up_defaults(root)
    if len(ports) != 11:
        errors.append(f"expected 11 port defaults in local-up.sh, found {sorted(ports)}")

    if run_file.get("version") != 1:
        errors.append("version is not 1")
    errors += [f"unknown top-level field {k}" for k in set(run_file) - TOP_FIELDS]
    common = run_file.get("common", {})
    errors += [f"unknown common field {k}" for k in set(common) - SHARED_FIELDS]

    config_path = root / common.get("configFilePath", "")
    if not config_path.is_file() or config_path != root / "scripts/local/config.yaml":
        errors.append(f"common.configFilePath is not scripts/local/config.yaml: {common.get('configFilePath')}")
    for rp in common.get("resourcesPaths", []):
        if (root / rp).resolve() != root / "scripts/local/resources":
            errors.append(f"resources path {rp} is not scripts/local/resources, which local-up passes")

    config = yaml.safe_load((root / "scripts/local/config.yaml").read_text())
    spec = config.get("spec", {})
    zipkin = spec.get("tracing", {}).get("zipkin", {}).get("endpointAddress", "")
    if config.get("kind") != "Configuration" or spec.get("tracing", {}).get("samplingRate") != "1":
        errors.append("scripts/local/config.yaml is not a Configuration sampling every request")
    if zipkin != f"http://127.0.0.1:{ports.get('ZIPKIN_PORT')}/api/v2/spans":
        errors.append(f"the Dapr Configuration exports to {zipkin}, not local-up's Zipkin port")
    if common.get("env", {}).get("MANAGEMENT_ZIPKIN_TRACING_ENDPOINT") != zipkin:
        errors.append("the apps export their spans somewhere else than the sidecars do")
    nr = spec.get("nameResolution", {})
    if nr.get("component") != "sqlite" or not nr.get("configuration", {}).get("connectionString"):
        errors.append("name resolution is not sqlite with a connectionString")

    expected = {
        "greeter": ("GREETER_PORT", "GREETER_DAPR_HTTP_PORT", "GREETER_DAPR_GRPC_PORT", "GREETER_DAPR_METRICS_PORT"),
        "comms": ("COMMS_PORT", "COMMS_DAPR_HTTP_PORT", "COMMS_DAPR_GRPC_PORT", "COMMS_DAPR_METRICS_PORT"),
    }
    apps = {a.get("appID"): a for a in run_file.get("apps", [])}
    if set(apps) != set(expected):
        errors.append(f"app ids are {sorted(map(str, apps))}, not comms and greeter")
    for app_id, (app, http, grpc, metrics) in expected.items():
        a = apps.get(app_id, {})
        errors += [f"{app_id}: unknown field {k}" for k in set(a) - APP_FIELDS]
        for field, var in (("appPort", app), ("daprHTTPPort", http), ("daprGRPCPort", grpc), ("metricsPort", metrics)):
            if a.get(field) != ports.get(var):
                errors.append(f"{app_id}.{field} is {a.get(field)}, local-up's {var} is {ports.get(var)}")
        if str(a.get("env", {}).get("SERVER_PORT")) != str(a.get("appPort")):
            errors.append(f"{app_id}: SERVER_PORT does not equal appPort")
        app_dir = root / a.get("appDirPath", "")
        jar = f"target/{app_id}-service.jar"
        if a.get("appDirPath") != f"{app_id}-service" or a.get("command") != ["java", "-jar", jar]:
            errors.append(f"{app_id}: does not run {app_id}-service/{jar}, the jar local-up runs")
        if not (app_dir / "pom.xml").is_file():
            errors.append(f"{app_id}: appDirPath {app_dir} is not the module")

    for e in errors:
        print("dapr.yaml: " + e)
    if not errors:
        print(f"dapr.yaml agrees with local-up: {', '.join(f'{k}={v}' for k, v in sorted(ports.items()))}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
