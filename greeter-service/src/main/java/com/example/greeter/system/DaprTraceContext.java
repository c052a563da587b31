package com.example.greeter.system;

import java.util.HashMap;
import java.util.Map;

import io.micrometer.tracing.TraceContext;
import io.micrometer.tracing.Tracer;
import io.micrometer.tracing.propagation.Propagator;
import reactor.util.context.Context;
import reactor.util.context.ContextView;

import org.springframework.stereotype.Component;

/**
 * The current span's W3C headers ({@code traceparent}, {@code tracestate}) as a Reactor context: the
 * DaprClient creates no spans, it forwards what it finds under those keys in the context of each call, so
 * that the sidecar's span continues greeter's trace. Every call is made with
 * {@code .contextWrite(traceContext.current())}.
 */
@Component
public class DaprTraceContext {

	private final Tracer tracer;

	private final Propagator propagator;

	public DaprTraceContext(Tracer tracer, Propagator propagator) {
		this.tracer = tracer;
		this.propagator = propagator;
	}

	/** Empty outside a span: the sidecar then starts a trace of its own. */
	public ContextView current() {
		TraceContext span = this.tracer.currentTraceContext().context();
		if (span == null) {
			return Context.empty();
		}
		Map<String, String> headers = new HashMap<>();
		this.propagator.inject(span, headers, Map::put);
		return Context.of(headers);
	}

}
