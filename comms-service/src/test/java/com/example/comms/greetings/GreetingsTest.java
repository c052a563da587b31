package com.example.comms.greetings;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.example.comms.greetings.Receipts.Receipt;
import io.dapr.client.domain.CloudEvent;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import org.springframework.http.HttpStatus;
import org.springframework.web.server.ResponseStatusException;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

/** The asynchronous greeting's decisions, with fakes for the store and the receipts: no web server, no sidecar. */
class GreetingsTest {

	private final MeterRegistry meters = new SimpleMeterRegistry();

	/** What the fakes were asked to write, in order. */
	private final List<String> writes = new ArrayList<>();

	private final FakeStore store = new FakeStore();

	private final List<Receipt> receipts = new ArrayList<>();

	private final Greetings greetings = new Greetings(this.store, receipt -> {
		this.writes.add("receipt " + receipt.id());
		this.receipts.add(receipt);
	}, this.meters, new GreetingsProperties("pubsub", "greetings", "receipts", Duration.ofSeconds(2),
			Duration.ofSeconds(30)));

	@Test
	void storesANewPendingGreetingAndCountsIt() {
		GreetingView accepted = this.greetings.request("Ada", null);

		Greeting stored = this.store.greeting(accepted.id());
		assertThat(accepted).isEqualTo(new GreetingView(stored.id(), Greeting.Status.PENDING, null));
		assertThat(stored.name()).isEqualTo("Ada");
		assertThat(Instant.parse(stored.createdAt())).isBeforeOrEqualTo(Instant.now());
		assertThat(this.greetings.request("Ada", null).id()).as("without a key, a new greeting")
			.isNotEqualTo(accepted.id());
		assertThat(this.meters.get(Greetings.ACCEPTED_METRIC).counter().count()).isEqualTo(2);
	}

	@Test
	void answersARetriedRequestWithTheGreetingItsKeyMade() {
		String id = UUID.nameUUIDFromBytes("greeting:key-1".getBytes(StandardCharsets.UTF_8)).toString();

		GreetingView first = this.greetings.request("Ada", "key-1");
		GreetingView retry = this.greetings.request("Ada", "key-1");

		assertThat(first.id()).isEqualTo(id);
		assertThat(retry).isEqualTo(first);
		assertThat(this.writes).containsExactly("add " + id);
		assertThat(this.meters.get(Greetings.ACCEPTED_METRIC).counter().count()).isEqualTo(1);
	}

	@Test
	void sendsTheEventOfAGreetingPendingPastTheLimitAgainWhenAskedAboutIt() {
		Instant late = Instant.now().minusSeconds(31);
		Greeting pending = Greeting.pending(UUID.randomUUID(), "Ada", late);
		this.store.put(pending);

		assertThat(this.greetings.find(UUID.fromString(pending.id()))).hasValueSatisfying(
				view -> assertThat(view.status()).isEqualTo(Greeting.Status.PENDING));
		this.greetings.find(UUID.fromString(pending.id()));

		assertThat(this.writes).as("sent again once: then it was just sent").containsExactly("send again " + pending.id());
		assertThat(this.store.greeting(pending.id()).lastSent()).isAfter(late.plusSeconds(30));
		assertThat(this.store.greeting(pending.id()).createdAt()).isEqualTo(pending.createdAt());
		assertThat(this.meters.get(Greetings.SENT_AGAIN_METRIC).counter().count()).isEqualTo(1);
	}

	@Test
	void leavesARecentOrFinishedGreetingAlone() {
		Greeting recent = Greeting.pending(UUID.randomUUID(), "Ada", Instant.now().minusSeconds(29));
		Greeting done = Greeting.pending(UUID.randomUUID(), "Ada", Instant.now().minusSeconds(60))
			.done("Hello, Ada!", Instant.now());
		this.store.put(recent);
		this.store.put(done);

		this.greetings.find(UUID.fromString(recent.id()));
		this.greetings.find(UUID.fromString(done.id()));

		assertThat(this.writes).isEmpty();
	}

	@Test
	void answersALateGreetingEvenWhenItsEventCannotBeSentAgain() {
		Greeting pending = Greeting.pending(UUID.randomUUID(), "Ada", Instant.now().minusSeconds(60));
		this.store.put(pending);
		this.store.sendAgainFails = true;

		assertThat(this.greetings.find(UUID.fromString(pending.id()))).hasValueSatisfying(
				view -> assertThat(view.status()).isEqualTo(Greeting.Status.PENDING));
		assertThat(this.meters.get(Greetings.SENT_AGAIN_METRIC).counter().count()).isZero();
	}

	@Test
	void refusesAKeyUsedForAnotherName() {
		this.greetings.request("Ada", "key-1");

		assertThatExceptionOfType(ResponseStatusException.class)
			.isThrownBy(() -> this.greetings.request("Grace", "key-1"))
			.satisfies(ex -> assertThat(ex.getStatusCode()).isEqualTo(HttpStatus.UNPROCESSABLE_CONTENT));
		assertThat(this.writes).hasSize(1);
	}

	@Test
	void writesTheReceiptBeforeSavingTheGreetingAsDone() {
		String id = pendingSince(Instant.now().minusSeconds(3));

		EventAnswer answer = this.greetings.greeted(greeted(id, "Hello, Ada!"));

		assertThat(answer).isEqualTo(EventAnswer.SUCCESS);
		assertThat(this.writes).containsExactly("receipt " + id, "replace " + id + " DONE");
		assertThat(this.receipts).containsExactly(new Receipt(id, "Hello, Ada!", "2026-05-04T08:15:30Z"));
		Greeting done = this.store.greeting(id);
		assertThat(done.message()).isEqualTo("Hello, Ada!");
		assertThat(Instant.parse(done.doneAt())).isAfter(Instant.parse(done.createdAt()));
		assertThat(this.greetings.find(UUID.fromString(id)))
			.hasValue(new GreetingView(id, Greeting.Status.DONE, "Hello, Ada!"));
		assertThat(this.meters.get(Greetings.COMPLETION_METRIC).timer().count()).isEqualTo(1);
		assertThat(this.meters.get(Greetings.COMPLETION_METRIC).timer().totalTime(TimeUnit.MILLISECONDS))
			.isGreaterThanOrEqualTo(3000);
	}

	@Test
	void takesARedeliveredEventWithoutWritingAgain() {
		String id = pendingSince(Instant.now());
		this.greetings.greeted(greeted(id, "Hello, Ada!"));
		this.writes.clear();

		assertThat(this.greetings.greeted(greeted(id, "Hello, Ada!"))).isEqualTo(EventAnswer.SUCCESS);
		assertThat(this.writes).isEmpty();
		assertThat(this.meters.get(Greetings.COMPLETION_METRIC).timer().count()).isEqualTo(1);
	}

	@Test
	void rewritesTheSameReceiptWhenTheEventComesAgainAfterTheGreetingCouldNotBeSaved() {
		String id = pendingSince(Instant.now());
		this.store.replaceFails = true;

		assertThatExceptionOfType(SidecarUnavailable.class)
			.isThrownBy(() -> this.greetings.greeted(greeted(id, "Hello, Ada!")));
		this.store.replaceFails = false;
		EventAnswer again = this.greetings.greeted(greeted(id, "Hello, Ada!"));

		assertThat(again).isEqualTo(EventAnswer.SUCCESS);
		assertThat(this.receipts).hasSize(2).containsOnly(new Receipt(id, "Hello, Ada!", "2026-05-04T08:15:30Z"));
		assertThat(this.store.greeting(id).status()).isEqualTo(Greeting.Status.DONE);
	}

	@Test
	void takesTheEventWhenAnotherDeliveryCompletedTheGreetingFirst() {
		String id = pendingSince(Instant.now());
		this.store.beforeReplace = () -> this.store.put(this.store.greeting(id).done("Hello, Ada!", Instant.now()));

		assertThat(this.greetings.greeted(greeted(id, "Hello, Ada!"))).isEqualTo(EventAnswer.SUCCESS);
		assertThat(this.meters.get(Greetings.COMPLETION_METRIC).timer().count()).as("timed by the other delivery")
			.isZero();
	}

	@Test
	void asksForTheEventAgainWhenAnotherWriteCameFirstWithoutCompletingIt() {
		String id = pendingSince(Instant.now());
		this.store.beforeReplace = () -> this.store.put(this.store.greeting(id).failed());

		assertThatExceptionOfType(ResponseStatusException.class)
			.isThrownBy(() -> this.greetings.greeted(greeted(id, "Hello, Ada!")))
			.satisfies(ex -> assertThat(ex.getStatusCode()).isEqualTo(HttpStatus.SERVICE_UNAVAILABLE));
		this.store.beforeReplace = () -> { };
		assertThat(this.greetings.greeted(greeted(id, "Hello, Ada!"))).as("delivered again")
			.isEqualTo(EventAnswer.SUCCESS);
		assertThat(this.store.greeting(id).status()).isEqualTo(Greeting.Status.DONE);
	}

	static Stream<Greeted> eventsNeverTaken() {
		String unknown = UUID.randomUUID().toString();
		return Stream.of(null, new Greeted(null, "Hello, Ada!"), new Greeted("not-a-uuid", "Hello, Ada!"),
				new Greeted(unknown, null), new Greeted(unknown, " "), new Greeted(unknown, "Hello, Ada!"));
	}

	@ParameterizedTest
	@MethodSource("eventsNeverTaken")
	void dropsAnEventItCanNeverTake(Greeted data) {
		CloudEvent<Greeted> event = greeted("unused", "unused");
		event.setData(data);

		assertThat(this.greetings.greeted(event)).isEqualTo(EventAnswer.DROP);
		assertThat(this.writes).isEmpty();
	}

	@Test
	void countsADeadLetterByItsTopicAndFailsItsGreetingOnlyWhilePending() {
		String pending = pendingSince(Instant.now());
		String done = pendingSince(Instant.now());
		this.greetings.greeted(greeted(done, "Hello, Ada!"));

		this.greetings.deadLetter(deadLetter("greeting.requested", "{\"id\":\"" + pending + "\",\"name\":\"Ada\"}"));
		this.greetings.deadLetter(deadLetter("greeting.greeted", "{\"id\":\"" + done + "\",\"message\":\"Hi\"}"));
		this.greetings.deadLetter(deadLetter("greeting.requested", "{\"id\":\"" + pending + "\",\"name\":\"Ada\"}"));

		assertThat(this.store.greeting(pending).status()).isEqualTo(Greeting.Status.FAILED);
		assertThat(this.store.greeting(done).status()).isEqualTo(Greeting.Status.DONE);
		assertThat(deadLetters("greeting.requested")).isEqualTo(2);
		assertThat(deadLetters("greeting.greeted")).isEqualTo(1);
	}

	@Test
	void takesEveryDeadLetterCountingOneWithoutTopicAsUnknown() {
		this.store.down = true;

		assertThat(this.greetings.deadLetter(new CloudEvent<>())).isEqualTo(EventAnswer.SUCCESS);
		assertThat(this.greetings.deadLetter(deadLetter("greeting.requested", "[\"not\",\"an\",\"object\"]")))
			.isEqualTo(EventAnswer.SUCCESS);
		assertThat(this.greetings.deadLetter(
				deadLetter("greeting.requested", "{\"id\":\"" + UUID.randomUUID() + "\",\"name\":\"Ada\"}")))
			.as("with the store down")
			.isEqualTo(EventAnswer.SUCCESS);
		assertThat(deadLetters("unknown")).isEqualTo(1);
		assertThat(deadLetters("greeting.requested")).isEqualTo(2);
	}

	private String pendingSince(Instant createdAt) {
		Greeting greeting = Greeting.pending(UUID.randomUUID(), "Ada", createdAt);
		this.store.put(greeting);
		return greeting.id();
	}

	private static CloudEvent<Greeted> greeted(String id, String message) {
		CloudEvent<Greeted> event = new CloudEvent<>(UUID.randomUUID().toString(), "greeter", "com.dapr.event.sent",
				"1.0", "application/json", new Greeted(id, message));
		event.setTopic("greeting.greeted");
		event.setTime(OffsetDateTime.parse("2026-05-04T10:15:30+02:00"));
		return event;
	}

	private static CloudEvent<JsonNode> deadLetter(String topic, String data) {
		CloudEvent<JsonNode> event = new CloudEvent<>(UUID.randomUUID().toString(), "comms", "com.dapr.event.sent",
				"1.0", "application/json", new ObjectMapper().readTree(data));
		event.setTopic(topic);
		return event;
	}

	private double deadLetters(String topic) {
		return this.meters.get(Greetings.DEAD_LETTERS_METRIC).tag("topic", topic).counter().count();
	}

	/** Greetings in a map, each with an etag that changes on every write, as a state store keeps them. */
	private final class FakeStore implements GreetingStore {

		private final Map<String, Versioned> greetings = new HashMap<>();

		private int etags;

		boolean down;

		boolean replaceFails;

		boolean sendAgainFails;

		/** Runs between a replace's read and its write: another writer's turn. */
		Runnable beforeReplace = () -> { };

		@Override
		public void add(Greeting greeting) {
			check(this.down);
			writes.add("add " + greeting.id());
			put(greeting);
		}

		@Override
		public void sendAgain(Greeting greeting, String etag) {
			check(this.down || this.sendAgainFails);
			if (this.greetings.get(greeting.id()).etag().equals(etag)) {
				writes.add("send again " + greeting.id());
				put(greeting);
			}
		}

		@Override
		public Optional<Versioned> find(String id) {
			check(this.down);
			return Optional.ofNullable(this.greetings.get(id));
		}

		@Override
		public boolean replace(Greeting greeting, String etag) {
			check(this.down || this.replaceFails);
			this.beforeReplace.run();
			if (!this.greetings.get(greeting.id()).etag().equals(etag)) {
				return false;
			}
			writes.add("replace " + greeting.id() + " " + greeting.status());
			put(greeting);
			return true;
		}

		void put(Greeting greeting) {
			this.greetings.put(greeting.id(), new Versioned(greeting, String.valueOf(++this.etags)));
		}

		Greeting greeting(String id) {
			return this.greetings.get(id).greeting();
		}

		private static void check(boolean down) {
			if (down) {
				throw new SidecarUnavailable("The greetings' store is unavailable; retry shortly",
						new IllegalStateException("down"));
			}
		}

	}

}
