package com.example.comms.greetings;

import java.time.Duration;
import java.util.Map;

import com.example.comms.system.DaprTraceContext;
import io.dapr.client.DaprClient;
import io.dapr.client.domain.InvokeBindingRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.stereotype.Component;

/** Receipts written through the sidecar's output binding, each call bounded and in the event's trace. */
@Component
class DaprReceipts implements Receipts {

	private static final Logger log = LoggerFactory.getLogger(DaprReceipts.class);

	private final DaprClient dapr;

	private final DaprTraceContext trace;

	private final String binding;

	private final Duration timeout;

	DaprReceipts(DaprClient dapr, DaprTraceContext trace, GreetingsProperties properties) {
		this.dapr = dapr;
		this.trace = trace;
		this.binding = properties.receipts();
		this.timeout = properties.timeout();
	}

	@Override
	public void write(Receipt receipt) {
		String file = receipt.id() + ".json";
		// The local-storage binding names the file by fileName, the S3 one the object by key: one call serves both.
		InvokeBindingRequest create = new InvokeBindingRequest(this.binding, "create").setData(receipt)
			.setMetadata(Map.of("fileName", file, "key", file));
		try {
			this.dapr.invokeBinding(create).contextWrite(this.trace.current()).block(this.timeout);
		}
		catch (RuntimeException ex) {
			log.warn("Could not write a receipt to binding {}: {}", this.binding, ex.toString());
			throw new SidecarUnavailable("The receipts' store is unavailable; retry shortly", ex);
		}
	}

}
