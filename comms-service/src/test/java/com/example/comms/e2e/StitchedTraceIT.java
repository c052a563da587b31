package com.example.comms.e2e;

import java.time.Duration;
import java.util.List;

import com.example.comms.e2e.OtlpReceiver.ReceivedSpan;
import io.opentelemetry.proto.trace.v1.Span.SpanKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

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
		// Datadog's env tag comes from this resource attribute (OTEL_RESOURCE_ATTRIBUTES in Kubernetes).
		assertThat(List.of(commsApp.environment(), greeterApp.environment())).as("deployment.environment.name")
			.containsOnly(DaprStack.ENVIRONMENT);
		// Health checks were polled and the sidecars queried /dapr/config while the stack started:
		// none of that may become a trace.
		assertThat(real.receiver().spans()).as("spans of health checks and sidecar start-up queries")
			.noneMatch(span -> span.fromApp() && (span.name().contains("health") || span.name().contains("/dapr/")));
		assertThat(real.receiver().rejected()).as("exports that were not OTLP protobuf").isEmpty();
	}

	private static boolean reachesGreeterApp(List<ReceivedSpan> trace) {
		return trace.stream().anyMatch(app("greeter", SpanKind.SPAN_KIND_SERVER))
				&& trace.stream().anyMatch(daprd("greeter")) && trace.stream().anyMatch(daprd("comms"))
				&& trace.stream().anyMatch(app("comms", SpanKind.SPAN_KIND_SERVER));
	}

}
