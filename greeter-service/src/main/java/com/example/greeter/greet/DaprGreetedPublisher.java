package com.example.greeter.greet;

import com.example.greeter.system.DaprTraceContext;
import io.dapr.client.DaprClient;
import io.dapr.client.domain.PublishEventRequest;

import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;

/** Publishes through greeter's sidecar, in the current trace, and waits at most the configured timeout. */
@Component
class DaprGreetedPublisher implements GreetedPublisher {

	private final DaprClient dapr;

	private final DaprTraceContext traceContext;

	private final GreetingEvents events;

	DaprGreetedPublisher(DaprClient dapr, DaprTraceContext traceContext, GreetingEvents events) {
		this.dapr = dapr;
		this.traceContext = traceContext;
		this.events = events;
	}

	@Override
	public void publish(GreetingGreeted greeted) {
		PublishEventRequest request = new PublishEventRequest(this.events.pubsub(), this.events.greetedTopic(),
				greeted)
			.setContentType(MediaType.APPLICATION_JSON_VALUE);
		this.dapr.publishEvent(request).contextWrite(this.traceContext.current()).block(this.events.publishTimeout());
	}

}
