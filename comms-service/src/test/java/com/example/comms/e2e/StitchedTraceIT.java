package com.example.comms.e2e;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import com.example.comms.e2e.OtlpReceiver.ReceivedMetric;
import com.example.comms.e2e.OtlpReceiver.ReceivedSpan;
import io.opentelemetry.proto.trace.v1.Span.SpanKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.yaml.snakeyaml.Yaml;
import tools.jackson.databind.JsonNode;

import static com.example.comms.e2e.Traces.app;
import static com.example.comms.e2e.Traces.childOf;
import static com.example.comms.e2e.Traces.daprd;
import static com.example.comms.e2e.Traces.describe;
import static com.example.comms.e2e.Traces.orphans;
import static org.assertj.core.api.Assertions.assertThat;

/** One POST /greet through real daprd sidecars gives one trace: comms → its sidecar → greeter's sidecar → greeter. */
class StitchedTraceIT {

	@RegisterExtension
	static final RealDaprStack real = new RealDaprStack();

	private static final HttpClient http = HttpClient.newHttpClient();

	@Test
	void oneRequestGivesOneTraceAcrossBothSidecars() throws Exception {
		RealDaprStack.Greeting greeting = real.greet();

		assertThat(greeting.status()).isEqualTo(200);
		// The answer came from greeter, through both sidecars.
		assertThat(greeting.reply()).as(real.stack().logs())
			.isEqualTo(RealDaprStack.parse("{\"message\":\"Hello, Ada!\",\"service\":\"greeter\",\"fallback\":false}"));

		String callerSpanId = greeting.callerSpanId();
		List<ReceivedSpan> trace = real.receiver().awaitTrace(greeting.traceId(), StitchedTraceIT::reachesGreeterApp,
				Duration.ofSeconds(60));
		String spans = describe(trace);

		ReceivedSpan commsApp = trace.stream()
			.filter(app("comms", SpanKind.SPAN_KIND_SERVER))
			.findFirst()
			.orElseThrow(() -> new AssertionError("no SERVER span from the comms app in" + spans));
		assertThat(commsApp.parentSpanId()).as("comms continues the caller's trace" + spans).isEqualTo(callerSpanId);
		ReceivedSpan commsCall = childOf(trace, commsApp, app("comms", SpanKind.SPAN_KIND_CLIENT))
			.orElseThrow(() -> new AssertionError("no CLIENT span of comms' call to its sidecar in" + spans));
		ReceivedSpan commsSidecar = childOf(trace, commsCall, daprd("comms"))
			.orElseThrow(() -> new AssertionError("no comms daprd span under comms' call in" + spans));
		ReceivedSpan greeterSidecar = childOf(trace, commsSidecar, daprd("greeter"))
			.orElseThrow(() -> new AssertionError("no greeter daprd span under the comms daprd span in" + spans));
		ReceivedSpan greeterApp = childOf(trace, greeterSidecar, app("greeter", SpanKind.SPAN_KIND_SERVER))
			.orElseThrow(() -> new AssertionError("no greeter app SERVER span under greeter's daprd span in" + spans));

		assertThat(commsSidecar.kind()).as(spans).isEqualTo(SpanKind.SPAN_KIND_CLIENT);
		assertThat(greeterSidecar.kind()).as(spans).isEqualTo(SpanKind.SPAN_KIND_SERVER);
		assertThat(orphans(trace, callerSpanId)).as("spans whose parent never arrived" + spans).isEmpty();
		assertThat(trace).as("span names carry routes, never the caller's name" + spans)
			.noneMatch(span -> span.name().contains("Ada"));
		assertThat(greeterApp.name()).as(spans).contains("/greet");
		// Datadog's env tag comes from this resource attribute (OTEL_RESOURCE_ATTRIBUTES in Kubernetes).
		assertThat(List.of(commsApp.environment(), greeterApp.environment())).as("deployment.environment.name")
			.containsOnly(DaprStack.ENVIRONMENT);
		// Health checks were polled and the sidecars queried /dapr/config while the stack started:
		// none of that may become a trace.
		assertThat(real.receiver().spans()).as("spans of health checks and sidecar start-up queries")
			.noneMatch(span -> span.fromApp() && (span.name().contains("health") || span.name().contains("/dapr/")));
		assertThat(real.receiver().rejected()).as("exports that were not OTLP protobuf").isEmpty();
	}

	/**
	 * What the Datadog Agent scrapes from each sidecar: the metrics that the pod's OpenMetrics check
	 * annotation (kubernetes/base) keeps. After a request, each of them is served by a sidecar, and
	 * the request counters counted it.
	 */
	@Test
	void sidecarsServeTheMetricsThatDatadogKeeps() throws Exception {
		long before = requestCount("comms");

		real.greet();

		Set<String> served = new TreeSet<>();
		served.addAll(metricFamilies(scrape("comms")));
		served.addAll(metricFamilies(scrape("greeter")));
		for (String deployment : List.of("comms", "greeter")) {
			JsonNode instance = openMetricsCheck(deployment);
			String prefix = instance.path("raw_metric_prefix").asText();
			List<String> kept = new ArrayList<>();
			instance.path("metrics").forEach(pattern -> kept.add(pattern.asText()));
			assertThat(kept).as("the metrics %s's check keeps", deployment).isNotEmpty();
			for (String pattern : kept) {
				assertThat(served).as("sidecar metrics for the pattern %s%s of %s's check", prefix, pattern, deployment)
					.anyMatch(name -> name.matches(prefix + pattern));
			}
		}
		assertThat(requestCount("comms")).as("requests comms' sidecar counted").isGreaterThan(before);
	}

	/** The apps push their own metrics over OTLP, as their spans, with the unified service tags. */
	@Test
	void appsExportTheirRequestMetricsOverOtlp() throws Exception {
		real.greet();

		for (String service : List.of("comms", "greeter")) {
			assertThat(real.receiver()
				.awaitMetric(metric -> metric.name().equals("http.server.request.duration")
						&& metric.service().equals(service) && "/greet".equals(metric.attributes().get("http.route"))
						&& metric.value() > 0, Duration.ofSeconds(30)))
				.as("%s's http.server.request.duration for POST /greet in %s", service, real.receiver().metrics())
				.get()
				.extracting(ReceivedMetric::environment)
				.isEqualTo(DaprStack.ENVIRONMENT);
		}
	}

	private static String scrape(String appId) throws Exception {
		return http.send(HttpRequest.newBuilder(URI.create(real.stack().sidecarMetricsUrl(appId))).build(),
				BodyHandlers.ofString())
			.body();
	}

	/** The names of the metric families in a Prometheus text exposition (its "# TYPE name type" lines). */
	private static Set<String> metricFamilies(String exposition) {
		Set<String> names = new TreeSet<>();
		exposition.lines().filter(line -> line.startsWith("# TYPE ")).forEach(line -> names.add(line.split(" ")[2]));
		return names;
	}

	/** The sum of dapr_http_server_request_count over its series: requests into APP_ID's sidecar. */
	private static long requestCount(String appId) throws Exception {
		return scrape(appId).lines()
			.filter(line -> line.startsWith("dapr_http_server_request_count{"))
			.mapToLong(line -> (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)))
			.sum();
	}

	/** The one OpenMetrics instance of the pod annotation ad.datadoghq.com/daprd.checks of a Deployment. */
	@SuppressWarnings("unchecked")
	static JsonNode openMetricsCheck(String deployment) throws Exception {
		Path manifest = Path.of(System.getProperty("e2e.daprConfig")).resolveSibling(deployment + ".yaml");
		for (Object document : new Yaml().loadAll(Files.readString(manifest))) {
			Map<String, Object> object = (Map<String, Object>) document;
			if ("Deployment".equals(object.get("kind"))) {
				Map<String, Object> template = (Map<String, Object>) ((Map<String, Object>) object.get("spec")).get("template");
				Map<String, Object> annotations = (Map<String, Object>) ((Map<String, Object>) template.get("metadata"))
					.get("annotations");
				JsonNode instances = RealDaprStack.parse((String) annotations.get("ad.datadoghq.com/daprd.checks"))
					.path("openmetrics")
					.path("instances");
				assertThat(instances.size()).as("openmetrics instances in %s", manifest).isEqualTo(1);
				return instances.get(0);
			}
		}
		throw new AssertionError("no Deployment in " + manifest);
	}

	private static boolean reachesGreeterApp(List<ReceivedSpan> trace) {
		return trace.stream().anyMatch(app("greeter", SpanKind.SPAN_KIND_SERVER))
				&& trace.stream().anyMatch(daprd("greeter")) && trace.stream().anyMatch(daprd("comms"))
				&& trace.stream().anyMatch(app("comms", SpanKind.SPAN_KIND_SERVER));
	}

}
