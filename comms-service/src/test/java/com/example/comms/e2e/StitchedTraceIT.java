package com.example.comms.e2e;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import com.example.comms.e2e.OtlpReceiver.ReceivedSpan;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.opentelemetry.proto.trace.v1.Span.SpanKind;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static com.example.comms.e2e.Traces.app;
import static com.example.comms.e2e.Traces.childOf;
import static com.example.comms.e2e.Traces.daprd;
import static com.example.comms.e2e.Traces.describe;
import static com.example.comms.e2e.Traces.orphans;
import static org.assertj.core.api.Assertions.assertThat;

/** One POST /greet through real daprd sidecars gives one trace: comms → its sidecar → greeter's sidecar → greeter. */
class StitchedTraceIT {

	private static OtlpReceiver receiver;

	private static DaprStack stack;

	@BeforeAll
	static void startStack() throws Exception {
		receiver = new OtlpReceiver();
		stack = DaprStack.start(receiver, Path.of(System.getProperty("e2e.workDir"), "stitched-trace"));
	}

	@AfterAll
	static void stopStack() {
		if (stack != null) {
			stack.close();
		}
		if (receiver != null) {
			receiver.close();
		}
	}

	@Test
	void oneRequestGivesOneTraceAcrossBothSidecars() throws Exception {
		String traceId = Traces.randomHex(16);
		String callerSpanId = Traces.randomHex(8);

		HttpResponse<String> response = HttpClient.newHttpClient()
			.send(HttpRequest.newBuilder(URI.create(stack.commsUrl("/greet")))
				.header("Content-Type", "application/json")
				.header("traceparent", "00-" + traceId + "-" + callerSpanId + "-01")
				.POST(BodyPublishers.ofString("{\"name\":\"Ada\"}"))
				.timeout(Duration.ofSeconds(30))
				.build(), BodyHandlers.ofString());

		assertThat(response.statusCode()).isEqualTo(200);
		// The answer came from greeter, through both sidecars.
		assertThat(new ObjectMapper().readTree(response.body())).as(stack.logs()).isEqualTo(new ObjectMapper()
			.readTree("{\"message\":\"Hello, Ada!\",\"service\":\"greeter\",\"fallback\":false}"));

		List<ReceivedSpan> trace = receiver.awaitTrace(traceId, StitchedTraceIT::reachesGreeterApp,
				Duration.ofSeconds(60));
		String spans = describe(trace);

		ReceivedSpan commsApp = trace.stream()
			.filter(app("comms", SpanKind.SPAN_KIND_SERVER))
			.findFirst()
			.orElseThrow(() -> new AssertionError("no SERVER span from the comms app in" + spans));
		assertThat(commsApp.parentSpanId()).as("comms continues the caller's trace" + spans).isEqualTo(callerSpanId);
		ReceivedSpan commsSidecar = childOf(trace, commsApp, daprd("comms"))
			.orElseThrow(() -> new AssertionError("no comms daprd span under the comms app's span in" + spans));
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
		assertThat(receiver.rejected()).as("exports that were not OTLP protobuf").isEmpty();
	}

	private static boolean reachesGreeterApp(List<ReceivedSpan> trace) {
		return trace.stream().anyMatch(app("greeter", SpanKind.SPAN_KIND_SERVER))
				&& trace.stream().anyMatch(daprd("greeter")) && trace.stream().anyMatch(daprd("comms"))
				&& trace.stream().anyMatch(app("comms", SpanKind.SPAN_KIND_SERVER));
	}

}
