package com.example.comms.greet;

import java.util.HashMap;
import java.util.Map;

import io.dapr.client.DaprClient;
import io.dapr.client.domain.HttpExtension;
import io.micrometer.tracing.TraceContext;
import io.micrometer.tracing.Tracer;
import io.micrometer.tracing.propagation.Propagator;
import reactor.util.context.Context;
import org.springframework.stereotype.Component;

/** Invokes greeter through the local Dapr sidecar, carrying the current trace to it. */
@Component
class DaprGreeter implements Greeter {

	private final DaprClient dapr;

	private final GreeterProperties properties;

	private final Tracer tracer;

	private final Propagator propagator;

	DaprGreeter(DaprClient dapr, GreeterProperties properties, Tracer tracer, Propagator propagator) {
		this.dapr = dapr;
		this.properties = properties;
		this.tracer = tracer;
		this.propagator = propagator;
	}

	@Override
	public GreeterReply greet(String name) {
		return this.dapr
			.invokeMethod(this.properties.appId(), this.properties.method(), new GreetRequest(name),
					HttpExtension.POST, null, GreeterReply.class)
			// The SDK copies traceparent/tracestate from the Reactor context onto the sidecar request;
			// without them the sidecar starts a new trace and the request shows up as two.
			.contextWrite(Context.of(currentTraceHeaders()))
			.timeout(this.properties.timeout())
			.block();
	}

	private Map<String, String> currentTraceHeaders() {
		Map<String, String> headers = new HashMap<>();
		TraceContext context = this.tracer.currentTraceContext().context();
		if (context != null) {
			this.propagator.inject(context, headers, Map::put);
		}
		return headers;
	}

}
