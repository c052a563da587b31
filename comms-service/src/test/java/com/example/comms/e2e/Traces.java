package com.example.comms.e2e;

import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;

import com.example.comms.e2e.OtlpReceiver.ReceivedSpan;
import io.opentelemetry.proto.trace.v1.Span.SpanKind;

/** Reading one trace as edges between services: who is whose parent. */
final class Traces {

	private static final SecureRandom random = new SecureRandom();

	private Traces() {
	}

	static String randomHex(int bytes) {
		byte[] value = new byte[bytes];
		random.nextBytes(value);
		return HexFormat.of().formatHex(value);
	}

	static Predicate<ReceivedSpan> app(String service, SpanKind kind) {
		return span -> span.fromApp() && span.service().equals(service) && span.kind() == kind;
	}

	static Predicate<ReceivedSpan> daprd(String service) {
		return span -> span.fromDaprd() && span.service().equals(service);
	}

	/** The child of the parent span that matches, if the trace has one. */
	static Optional<ReceivedSpan> childOf(List<ReceivedSpan> trace, ReceivedSpan parent,
			Predicate<ReceivedSpan> match) {
		return trace.stream().filter(span -> span.parentSpanId().equals(parent.spanId())).filter(match).findFirst();
	}

	/** comms' sidecar span of a request: under comms' CLIENT span of the call, under its SERVER span. */
	static Optional<ReceivedSpan> commsSidecarUnder(List<ReceivedSpan> trace, ReceivedSpan commsServer) {
		return childOf(trace, commsServer, app("comms", SpanKind.SPAN_KIND_CLIENT))
			.flatMap(call -> childOf(trace, call, daprd("comms")));
	}

	/** Spans whose parent is neither in the trace nor the caller's span: the trace is broken there. */
	static List<ReceivedSpan> orphans(List<ReceivedSpan> trace, String callerSpanId) {
		Set<String> ids = trace.stream().map(ReceivedSpan::spanId).collect(Collectors.toSet());
		return trace.stream()
			.filter(span -> !ids.contains(span.parentSpanId()) && !span.parentSpanId().equals(callerSpanId))
			.toList();
	}

	static String describe(List<ReceivedSpan> trace) {
		return trace.stream().map(ReceivedSpan::toString).collect(Collectors.joining("\n  ", "\n  ", "\n"));
	}

}
