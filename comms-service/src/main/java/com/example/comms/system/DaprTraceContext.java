package com.example.comms.system;

import java.util.HashMap;
import java.util.Map;

import io.micrometer.tracing.TraceContext;
import io.micrometer.tracing.Tracer;
import io.micrometer.tracing.propagation.Propagator;
import reactor.util.context.Context;
import reactor.util.context.ContextView;

import org.springframework.stereotype.Component;

/**
 * The current span's W3C trace context ({@code traceparent}, {@code tracestate}) as a Reactor context,
 * for {@code DaprClient} calls' {@code contextWrite}: the Dapr SDK makes no spans and forwards only the
 * headers it finds there, so without them the sidecar's spans would start traces of their own.
 */
@Component
public class DaprTraceContext {

	private final Tracer tracer;

	private final Propagator propagator;

	DaprTraceContext(Tracer tracer, Propagator propagator) {
		this.tracer = tracer;
		this.propagator = propagator;
	}

	public ContextView current() {
		return Context.of(headers());
	}

	/** The headers themselves: empty outside a span. */
	public Map<String, String> headers() {
		TraceContext current = this.tracer.currentTraceContext().context();
		Map<String, String> headers = new HashMap<>();
		if (current != null) {
			this.propagator.inject(current, headers, Map::put);
		}
		return headers;
	}

}
