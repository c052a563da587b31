package com.example.comms.greetings;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.example.comms.system.DaprTraceContext;
import io.dapr.client.DaprClient;
import io.dapr.client.domain.SaveStateRequest;
import io.dapr.client.domain.State;
import io.dapr.client.domain.StateOptions;
import io.dapr.client.domain.TransactionalStateOperation;
import io.dapr.client.domain.TransactionalStateOperation.OperationType;
import io.dapr.exceptions.DaprException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Mono;

import org.springframework.stereotype.Component;

/** The greetings in Dapr's state store, through the sidecar's gRPC API: each call bounded, in the request's trace. */
@Component
class DaprGreetingStore implements GreetingStore {

	private static final Logger log = LoggerFactory.getLogger(DaprGreetingStore.class);

	// What the outbox publishes in place of the stored value, as JSON data (without the content type, as a
	// string). The stored values are JSON too, but say no content type: in a transaction, Dapr's Redis state
	// store takes one for RedisJSON (JSON.SET) even where Redis lacks that module, and fails; and a value
	// written with one is read only with one where Redis has it.
	private static final Map<String, String> OUTBOX_PROJECTION = Map.of("contentType", "application/json",
			"outbox.projection", "true");

	private static final StateOptions FIRST_WRITE = new StateOptions(null, StateOptions.Concurrency.FIRST_WRITE);

	// daprd's gRPC status for a write whose etag no longer matches.
	private static final String ETAG_MISMATCH = "ABORTED";

	private final DaprClient dapr;

	private final DaprTraceContext trace;

	private final String store;

	private final Duration timeout;

	DaprGreetingStore(DaprClient dapr, DaprTraceContext trace, GreetingsProperties properties) {
		this.dapr = dapr;
		this.trace = trace;
		this.store = properties.stateStore();
		this.timeout = properties.timeout();
	}

	@Override
	public void add(Greeting greeting) {
		store("store a greeting", greeting, null);
	}

	@Override
	public void sendAgain(Greeting greeting, String etag) {
		store("send a greeting again", greeting, etag);
	}

	private void store(String what, Greeting greeting, String etag) {
		// Dapr's outbox (1.18) sends the event with an empty traceparent, which starts a new trace where greeter's
		// sidecar receives it, but copies the stored operation's metadata into the event: the request's trace
		// context goes there. The state stores ignore these keys.
		State<Greeting> stored = new State<>(greeting.id(), greeting, etag, this.trace.headers(),
				(etag != null) ? FIRST_WRITE : null);
		List<TransactionalStateOperation<?>> operations = List.of(
				new TransactionalStateOperation<>(OperationType.UPSERT, stored),
				upsert(greeting.id(), new GreetingRequested(greeting.id(), greeting.name()), OUTBOX_PROJECTION));
		call(what, this.dapr.executeStateTransaction(this.store, operations));
	}

	@Override
	public Optional<Versioned> find(String id) {
		State<Greeting> state = call("read a greeting", this.dapr.getState(this.store, id, Greeting.class));
		return Optional.ofNullable(state.getValue()).map(greeting -> new Versioned(greeting, state.getEtag()));
	}

	@Override
	public boolean replace(Greeting greeting, String etag) {
		try {
			// Not saveState, which adds a content type.
			block(this.dapr.saveBulkState(new SaveStateRequest(this.store)
				.setStates(new State<>(greeting.id(), greeting, etag, null, FIRST_WRITE))));
			return true;
		}
		catch (RuntimeException ex) {
			if (ex instanceof DaprException dapr && ETAG_MISMATCH.equals(dapr.getErrorCode())) {
				return false;
			}
			throw unavailable("save a greeting", ex);
		}
	}

	/** The data of the {@code greeting.requested} event. */
	record GreetingRequested(String id, String name) {
	}

	private static <T> TransactionalStateOperation<T> upsert(String key, T value, Map<String, String> metadata) {
		return new TransactionalStateOperation<>(OperationType.UPSERT, new State<>(key, value, null, metadata, null));
	}

	private <T> T call(String what, Mono<T> call) {
		try {
			return block(call);
		}
		catch (RuntimeException ex) {
			throw unavailable(what, ex);
		}
	}

	private <T> T block(Mono<T> call) {
		return call.contextWrite(this.trace.current()).block(this.timeout);
	}

	private SidecarUnavailable unavailable(String what, RuntimeException ex) {
		log.warn("Could not {} in state store {}: {}", what, this.store, ex.toString());
		return new SidecarUnavailable("The greetings' store is unavailable; retry shortly", ex);
	}

}
