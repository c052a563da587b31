package com.example.comms.e2e;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.zip.GZIPInputStream;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
import io.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
import io.opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse;
import io.opentelemetry.proto.common.v1.KeyValue;
import io.opentelemetry.proto.metrics.v1.Metric;
import io.opentelemetry.proto.metrics.v1.NumberDataPoint;
import io.opentelemetry.proto.metrics.v1.ResourceMetrics;
import io.opentelemetry.proto.metrics.v1.ScopeMetrics;
import io.opentelemetry.proto.resource.v1.Resource;
import io.opentelemetry.proto.trace.v1.ResourceSpans;
import io.opentelemetry.proto.trace.v1.ScopeSpans;
import io.opentelemetry.proto.trace.v1.Span;
import io.opentelemetry.proto.trace.v1.Status;

/**
 * Stands where the Datadog Agent's OTLP/HTTP port (4318) would be: takes {@code POST /v1/traces}
 * and {@code POST /v1/metrics} as protobuf and decodes them with the official opentelemetry-proto
 * classes, so the tests read exactly what the Agent would receive.
 */
final class OtlpReceiver implements AutoCloseable {

	/** One decoded span, with what its resource says about who sent it. */
	record ReceivedSpan(String traceId, String spanId, String parentSpanId, String name, Span.SpanKind kind,
			Status.StatusCode status, String service, String sdkLanguage, String environment, String scope) {

		/** daprd sets no telemetry.sdk.language; it names its instrumentation scope instead. */
		boolean fromDaprd() {
			return "dapr-diagnostics".equals(this.scope);
		}

		boolean fromApp() {
			return "java".equals(this.sdkLanguage);
		}

		@Override
		public String toString() {
			return "%s[%s %s] %s %s span=%s parent=%s status=%s".formatted(this.service,
					fromDaprd() ? "daprd" : fromApp() ? "app" : "?", this.scope, this.kind, this.name,
					this.spanId, this.parentSpanId, this.status);
		}

	}

	/**
	 * One decoded data point of a counter (its value) or a timer (its count), with the service and
	 * environment of the resource that sent it.
	 */
	record ReceivedMetric(String service, String environment, String name, double value,
			Map<String, String> attributes) {
	}

	private static final HexFormat hex = HexFormat.of();

	private final HttpServer server;

	private final ExecutorService executor = Executors.newFixedThreadPool(2);

	private final List<ReceivedSpan> spans = new CopyOnWriteArrayList<>();

	private final List<ReceivedMetric> metrics = new CopyOnWriteArrayList<>();

	private final List<String> rejected = new CopyOnWriteArrayList<>();

	OtlpReceiver() throws IOException {
		this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
		this.server.setExecutor(this.executor);
		this.server.createContext("/v1/traces", exchange -> export(exchange, body -> this.spans
			.addAll(flatten(ExportTraceServiceRequest.parseFrom(body))),
				ExportTraceServiceResponse.getDefaultInstance().toByteArray()));
		this.server.createContext("/v1/metrics", exchange -> export(exchange, body -> this.metrics
			.addAll(flatten(ExportMetricsServiceRequest.parseFrom(body))),
				ExportMetricsServiceResponse.getDefaultInstance().toByteArray()));
		this.server.start();
	}

	/** host:port, the form a Dapr Configuration's otel.endpointAddress takes. */
	String hostPort() {
		return "127.0.0.1:" + this.server.getAddress().getPort();
	}

	/** The full URL, the form Spring Boot's management.opentelemetry.tracing.export.otlp.endpoint takes. */
	String tracesUrl() {
		return "http://" + hostPort() + "/v1/traces";
	}

	List<ReceivedSpan> spans() {
		return List.copyOf(this.spans);
	}

	/** Requests that were not valid OTLP protobuf: a test failure of its own. */
	List<String> rejected() {
		return List.copyOf(this.rejected);
	}

	/** Polls until the spans of one trace satisfy the condition, or the time is up. */
	List<ReceivedSpan> awaitTrace(String traceId, Predicate<List<ReceivedSpan>> complete, Duration timeout)
			throws InterruptedException {
		long deadline = System.nanoTime() + timeout.toNanos();
		List<ReceivedSpan> trace = trace(traceId);
		while (!complete.test(trace) && System.nanoTime() < deadline) {
			Thread.sleep(200);
			trace = trace(traceId);
		}
		return trace;
	}

	/** Polls until a received data point matches, or the time is up. */
	Optional<ReceivedMetric> awaitMetric(Predicate<ReceivedMetric> wanted, Duration timeout)
			throws InterruptedException {
		long deadline = System.nanoTime() + timeout.toNanos();
		Optional<ReceivedMetric> found = this.metrics.stream().filter(wanted).findFirst();
		while (found.isEmpty() && System.nanoTime() < deadline) {
			Thread.sleep(200);
			found = this.metrics.stream().filter(wanted).findFirst();
		}
		return found;
	}

	List<ReceivedMetric> metrics() {
		return List.copyOf(this.metrics);
	}

	List<ReceivedSpan> trace(String traceId) {
		return this.spans.stream().filter(span -> span.traceId().equals(traceId)).toList();
	}

	/** Decodes a protobuf export body and keeps what it holds. */
	private interface Decoder {

		void accept(InputStream body) throws IOException;

	}

	private void export(HttpExchange exchange, Decoder decoder, byte[] response) throws IOException {
		try (exchange) {
			String contentType = String.valueOf(exchange.getRequestHeaders().getFirst("Content-Type"));
			if (!"POST".equals(exchange.getRequestMethod()) || !contentType.startsWith("application/x-protobuf")) {
				this.rejected.add(exchange.getRequestMethod() + " " + contentType);
				exchange.sendResponseHeaders(415, -1);
				return;
			}
			try (InputStream body = decoded(exchange)) {
				decoder.accept(body);
			}
			exchange.getResponseHeaders().set("Content-Type", "application/x-protobuf");
			exchange.sendResponseHeaders(200, response.length == 0 ? -1 : response.length);
			if (response.length > 0) {
				exchange.getResponseBody().write(response);
			}
		}
	}

	private static InputStream decoded(HttpExchange exchange) throws IOException {
		String encoding = exchange.getRequestHeaders().getFirst("Content-Encoding");
		InputStream body = exchange.getRequestBody();
		return "gzip".equalsIgnoreCase(encoding) ? new GZIPInputStream(body) : body;
	}

	private static List<ReceivedSpan> flatten(ExportTraceServiceRequest request) {
		List<ReceivedSpan> result = new ArrayList<>();
		for (ResourceSpans resourceSpans : request.getResourceSpansList()) {
			Resource resource = resourceSpans.getResource();
			String service = attribute(resource, "service.name");
			String language = attribute(resource, "telemetry.sdk.language");
			String environment = attribute(resource, "deployment.environment.name");
			for (ScopeSpans scopeSpans : resourceSpans.getScopeSpansList()) {
				for (Span span : scopeSpans.getSpansList()) {
					result.add(new ReceivedSpan(hex.formatHex(span.getTraceId().toByteArray()),
							hex.formatHex(span.getSpanId().toByteArray()),
							hex.formatHex(span.getParentSpanId().toByteArray()), span.getName(), span.getKind(),
							span.getStatus().getCode(), service, language, environment, scopeSpans.getScope().getName()));
				}
			}
		}
		return result;
	}

	private static List<ReceivedMetric> flatten(ExportMetricsServiceRequest request) {
		List<ReceivedMetric> result = new ArrayList<>();
		for (ResourceMetrics resourceMetrics : request.getResourceMetricsList()) {
			Resource resource = resourceMetrics.getResource();
			String service = attribute(resource, "service.name");
			String environment = attribute(resource, "deployment.environment.name");
			for (ScopeMetrics scopeMetrics : resourceMetrics.getScopeMetricsList()) {
				for (Metric metric : scopeMetrics.getMetricsList()) {
					switch (metric.getDataCase()) {
						case SUM -> metric.getSum().getDataPointsList().forEach(point -> result.add(new ReceivedMetric(
								service, environment, metric.getName(), value(point), attributes(point.getAttributesList()))));
						case HISTOGRAM -> metric.getHistogram().getDataPointsList().forEach(point -> result.add(
								new ReceivedMetric(service, environment, metric.getName(), point.getCount(),
										attributes(point.getAttributesList()))));
						case EXPONENTIAL_HISTOGRAM -> metric.getExponentialHistogram().getDataPointsList().forEach(
								point -> result.add(new ReceivedMetric(service, environment, metric.getName(),
										point.getCount(), attributes(point.getAttributesList()))));
						default -> {
						}
					}
				}
			}
		}
		return result;
	}

	private static double value(NumberDataPoint point) {
		return point.hasAsDouble() ? point.getAsDouble() : point.getAsInt();
	}

	private static Map<String, String> attributes(List<KeyValue> attributes) {
		return attributes.stream()
			.collect(Collectors.toMap(KeyValue::getKey, attribute -> attribute.getValue().getStringValue()));
	}

	private static String attribute(Resource resource, String key) {
		return resource.getAttributesList()
			.stream()
			.filter(attribute -> attribute.getKey().equals(key))
			.map(KeyValue::getValue)
			.map(value -> value.getStringValue())
			.findFirst()
			.orElse("");
	}

	@Override
	public void close() {
		this.server.stop(0);
		this.executor.shutdownNow();
	}

}
