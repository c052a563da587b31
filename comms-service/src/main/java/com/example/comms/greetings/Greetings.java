package com.example.comms.greetings;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;

import com.example.comms.greetings.GreetingStore.Versioned;
import com.example.comms.greetings.Receipts.Receipt;
import io.dapr.client.domain.CloudEvent;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;

import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Service;
import org.springframework.util.StringUtils;
import org.springframework.web.server.ResponseStatusException;

/**
 * The asynchronous greeting: comms stores a request, which Dapr's outbox publishes to greeter, and
 * greeter's answer comes back as an event that completes it. Events come at least once, so every step
 * may run again and does no harm. Names stay out of logs: they are the callers' data.
 */
@Service
class Greetings {

	static final String ACCEPTED_METRIC = "greetings.accepted";

	static final String COMPLETION_METRIC = "greetings.completion";

	static final String DEAD_LETTERS_METRIC = "greetings.dead.letters";

	static final String SENT_AGAIN_METRIC = "greetings.sent.again";

	private static final Logger log = LoggerFactory.getLogger(Greetings.class);

	private final GreetingStore store;

	private final Receipts receipts;

	private final MeterRegistry meters;

	private final Counter accepted;

	private final Timer completion;

	private final Counter sentAgain;

	private final Duration sendAgainAfter;

	Greetings(GreetingStore store, Receipts receipts, MeterRegistry meters, GreetingsProperties properties) {
		this.store = store;
		this.receipts = receipts;
		this.meters = meters;
		this.sendAgainAfter = properties.sendAgainAfter();
		this.sentAgain = Counter.builder(SENT_AGAIN_METRIC)
			.description("Pending greetings whose event was sent again")
			.register(meters);
		this.accepted = Counter.builder(ACCEPTED_METRIC).description("Greetings requested and stored").register(meters);
		this.completion = Timer.builder(COMPLETION_METRIC)
			.description("Time from a greeting's request to its completion")
			.register(meters);
	}

	/**
	 * A new pending greeting; with an idempotency key, the one this key asked for before, so that a retried
	 * request is answered again rather than greeted twice. The same key for another name is the caller's mistake.
	 */
	GreetingView request(String name, String idempotencyKey) {
		if (idempotencyKey == null) {
			return add(UUID.randomUUID(), name);
		}
		UUID id = UUID.nameUUIDFromBytes(("greeting:" + idempotencyKey).getBytes(StandardCharsets.UTF_8));
		Optional<Versioned> stored = this.store.find(id.toString());
		if (stored.isEmpty()) {
			return add(id, name);
		}
		if (!stored.get().greeting().name().equals(name)) {
			throw new ResponseStatusException(HttpStatus.UNPROCESSABLE_CONTENT,
					"This Idempotency-Key was used for a greeting of another name");
		}
		return GreetingView.of(sendAgainIfLate(stored.get()));
	}

	Optional<GreetingView> find(UUID id) {
		return this.store.find(id.toString()).map(stored -> GreetingView.of(sendAgainIfLate(stored)));
	}

	/**
	 * A greeting still pending long after its event was sent gets its event sent again, when it is asked
	 * about: delivery is at least once only while every part keeps its word, and daprd 1.18 takes some events
	 * as delivered to an app that was down. Best effort: the answer is the same either way.
	 */
	private Greeting sendAgainIfLate(Versioned stored) {
		Greeting greeting = stored.greeting();
		Instant now = Instant.now();
		if (greeting.status() != Greeting.Status.PENDING || greeting.lastSent().plus(this.sendAgainAfter).isAfter(now)) {
			return greeting;
		}
		try {
			this.store.sendAgain(greeting.sentAgain(now), stored.etag());
			this.sentAgain.increment();
			log.info("Greeting {} pending since {}: its event is sent again", greeting.id(), greeting.lastSent());
		}
		catch (SidecarUnavailable ex) {
			log.info("Greeting {} pending since {}: its event could not be sent again now", greeting.id(),
					greeting.lastSent());
		}
		return greeting;
	}

	/** greeter's answer: the greeting's receipt is written, then the greeting is done. */
	EventAnswer greeted(CloudEvent<Greeted> event) {
		Greeted data = event.getData();
		Optional<UUID> id = Optional.ofNullable(data).flatMap(greeted -> uuid(greeted.id()));
		if (id.isEmpty() || !StringUtils.hasText(data.message())) {
			return drop(event, "its data is not an id and a message");
		}
		Optional<Versioned> stored = this.store.find(id.get().toString());
		if (stored.isEmpty()) {
			return drop(event, "no greeting has its id");
		}
		Greeting greeting = stored.get().greeting();
		if (greeting.status() == Greeting.Status.DONE) {
			return EventAnswer.SUCCESS;
		}
		Instant now = Instant.now();
		// The receipt first: should comms stop before the greeting is saved, the event comes again and
		// rewrites the same receipt, where the other order would lose it.
		this.receipts.write(new Receipt(greeting.id(), data.message(), greetedAt(event, now)));
		if (this.store.replace(greeting.done(data.message(), now), stored.get().etag())) {
			this.completion.record(Duration.between(Instant.parse(greeting.createdAt()), now));
			return EventAnswer.SUCCESS;
		}
		// Another write came first: most likely this event's other delivery, which completed it.
		Optional<Versioned> again = this.store.find(greeting.id());
		if (again.isPresent() && again.get().greeting().status() == Greeting.Status.DONE) {
			return EventAnswer.SUCCESS;
		}
		throw new ResponseStatusException(HttpStatus.SERVICE_UNAVAILABLE,
				"The greeting changed while it was being completed; deliver the event again");
	}

	/**
	 * An event that its subscriber could not take: counted by its original topic, and the greeting it names,
	 * if still pending, failed. Always taken: a dead letter redelivered would come back forever.
	 */
	EventAnswer deadLetter(CloudEvent<JsonNode> event) {
		String topic = StringUtils.hasText(event.getTopic()) ? event.getTopic() : "unknown";
		Counter.builder(DEAD_LETTERS_METRIC)
			.description("Events that their subscriber could not take")
			.tag("topic", topic)
			.register(this.meters)
			.increment();
		log.warn("Dead letter: event {} of topic {}", event.getId(), topic);
		Optional<UUID> id = Optional.ofNullable(event.getData())
			.map(data -> data.path("id"))
			.filter(JsonNode::isString)
			.flatMap(text -> uuid(text.stringValue()));
		try {
			id.flatMap(greeting -> this.store.find(greeting.toString()))
				.filter(stored -> stored.greeting().status() == Greeting.Status.PENDING)
				.ifPresent(stored -> this.store.replace(stored.greeting().failed(), stored.etag()));
		}
		catch (SidecarUnavailable ex) {
			log.warn("Dead letter: event {} of topic {}: its greeting could not be marked failed", event.getId(),
					topic);
		}
		return EventAnswer.SUCCESS;
	}

	private GreetingView add(UUID id, String name) {
		Greeting greeting = Greeting.pending(id, name, Instant.now());
		this.store.add(greeting);
		this.accepted.increment();
		return GreetingView.of(greeting);
	}

	private static EventAnswer drop(CloudEvent<?> event, String reason) {
		log.warn("Dropped greeting.greeted event {}: {}", event.getId(), reason);
		return EventAnswer.DROP;
	}

	/** When greeter's answer was published: the same on every delivery, so a rewritten receipt is the same. */
	private static String greetedAt(CloudEvent<?> event, Instant now) {
		return ((event.getTime() != null) ? event.getTime().toInstant() : now).toString();
	}

	private static Optional<UUID> uuid(String text) {
		if (text == null) {
			return Optional.empty();
		}
		try {
			return Optional.of(UUID.fromString(text));
		}
		catch (IllegalArgumentException ex) {
			return Optional.empty();
		}
	}

}
