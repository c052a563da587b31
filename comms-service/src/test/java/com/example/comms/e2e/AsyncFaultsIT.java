package com.example.comms.e2e;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import com.example.comms.e2e.OtlpReceiver.ReceivedMetric;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Nothing lost when a process dies under a burst of asynchronous greetings: every accepted greeting is
 * done exactly once, with one receipt. The client does what a user's client should: it sends each
 * greeting with an Idempotency-Key and sends it again, with the same key, until it is accepted.
 */
class AsyncFaultsIT {

	@RegisterExtension
	static final RealDaprStack real = new RealDaprStack();

	private static final int BURST = 1000;

	private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

	@Test
	void greeterKilledDuringABurstLosesNoGreeting() throws Exception {
		Burst burst = burst(() -> {
			real.stack().killGreeterApp();
			real.stack().restartGreeterApp();
		});

		burst.assertEveryGreetingDoneOnce("greeter's app killed and started again");
	}

	@Test
	void redisRestartedDuringABurstLosesNoGreeting() throws Exception {
		Burst burst = burst(() -> real.stack().restartRedis());

		burst.assertEveryGreetingDoneOnce("Redis restarted");
	}

	/** What a fault does, once a third of the burst has been sent. */
	interface Fault {

		void strike() throws Exception;

	}

	/** The greetings a burst got accepted, and how many answers were refusals that the client sent again. */
	record Burst(Set<String> ids, int refusals, double completedBefore) {

		void assertEveryGreetingDoneOnce(String fault) throws Exception {
			long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
			Set<String> pending = ConcurrentHashMap.newKeySet();
			pending.addAll(this.ids);
			while (!pending.isEmpty() && System.nanoTime() < deadline) {
				pending.removeIf(AsyncFaultsIT::isDone);
				Thread.sleep(500);
			}
			long receipts = this.ids.stream()
				.filter(id -> Files.isRegularFile(real.stack().receipts().resolve(id + ".json")))
				.count();
			double completed = awaitCompletions(this.completedBefore + this.ids.size()) - this.completedBefore;
			System.out.printf("%s: %d accepted (%d refusals sent again), %d done, %d receipts, %.0f completions, "
					+ "%.0f events sent again%n", fault, this.ids.size(), this.refusals, this.ids.size() - pending.size(),
					receipts, completed, sum("greetings.sent.again"));
			assertThat(this.ids).as("greetings accepted").hasSize(BURST);
			assertThat(pending).as("greetings not done within 3 minutes of the burst (%s); %s", fault, brokerState(pending))
				.isEmpty();
			assertThat(receipts).as("receipts").isEqualTo(BURST);
			assertThat(completed).as("greetings comms completed (greetings.completion), exactly once each")
				.isEqualTo(BURST);
		}

	}

	/** BURST greetings from 16 clients, FAULT striking after the first third. */
	private static Burst burst(Fault fault) throws Exception {
		double before = completions();
		Set<String> ids = ConcurrentHashMap.newKeySet();
		AtomicInteger sent = new AtomicInteger();
		AtomicInteger refusals = new AtomicInteger();
		try (ExecutorService clients = Executors.newFixedThreadPool(16)) {
			List<Future<?>> all = new ArrayList<>();
			for (int i = 0; i < BURST; i++) {
				all.add(clients.submit(() -> {
					ids.add(acceptedId("Ada " + sent.incrementAndGet(), refusals));
					return null;
				}));
			}
			while (sent.get() < BURST / 3) {
				Thread.sleep(10);
			}
			fault.strike();
			try {
				for (Future<?> one : all) {
					one.get();
				}
			}
			finally {
				clients.shutdownNow(); // after a failure, the others' retries would hold the close for minutes
			}
		}
		return new Burst(ids, refusals.get(), before);
	}

	/** POST /greetings with a key of its own, sent again with the same key until it is accepted (202). */
	private static String acceptedId(String name, AtomicInteger refusals) throws Exception {
		String key = UUID.randomUUID().toString();
		HttpRequest request = HttpRequest.newBuilder(URI.create(real.stack().commsUrl("/greetings")))
			.header("Content-Type", "application/json")
			.header("Idempotency-Key", key)
			.timeout(Duration.ofSeconds(30))
			.POST(BodyPublishers.ofString("{\"name\":\"" + name + "\"}"))
			.build();
		long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
		String last = "";
		while (System.nanoTime() < deadline) {
			try {
				HttpResponse<String> answer = send(request);
				if (answer.statusCode() == 202) {
					return RealDaprStack.parse(answer.body()).path("id").asText();
				}
				last = answer.statusCode() + " " + answer.body();
				assertThat(answer.statusCode()).as("a refusal is a 503 to send again: %s", last).isEqualTo(503);
			}
			catch (CompletionException ex) {
				last = ex.getCause().toString();
			}
			refusals.incrementAndGet();
			Thread.sleep(500);
		}
		throw new AssertionError("not accepted within 2 minutes: " + last);
	}

	/** What Redis holds of the events: pending deliveries per consumer group, the dead letters, a stuck greeting. */
	private static String brokerState(Set<String> pending) throws Exception {
		StringBuilder state = new StringBuilder();
		for (String[] group : List.of(new String[] { "greeting.requested", "greeter" },
				new String[] { "greeting.greeted", "comms" })) {
			state.append("XPENDING ").append(String.join(" ", group)).append(": ")
				.append(real.stack().redis("XPENDING", group[0], group[1]).replace('\n', ' ')).append("; ");
		}
		state.append("XLEN greeting.dead-letter: ").append(real.stack().redis("XLEN", "greeting.dead-letter"));
		String requested = real.stack().redis("XRANGE", "greeting.requested", "-", "+");
		pending.stream().limit(3).forEach(id -> {
			try {
				state.append("; ").append(id).append(": ").append(real.stack().redis("HGETALL", "comms||" + id)
					.replace('\n', ' '));
				for (String event : requested.lines().filter(line -> line.contains(id)).toList()) {
					String traceId = RealDaprStack.parse(event).path("traceparent").asText().split("-")[1];
					state.append(", its trace ").append(traceId).append(':')
						.append(Traces.describe(real.receiver().trace(traceId)));
				}
			}
			catch (Exception ex) {
				state.append(ex);
			}
		});
		return state.toString();
	}

	/** The whole exchange bounded: a request's timeout ends at the answer's headers; one exchange here never ended. */
	private static HttpResponse<String> send(HttpRequest request) {
		return http.sendAsync(request, BodyHandlers.ofString()).orTimeout(40, TimeUnit.SECONDS).join();
	}

	private static boolean isDone(String id) {
		try {
			HttpResponse<String> status = send(HttpRequest
				.newBuilder(URI.create(real.stack().commsUrl("/greetings/" + id)))
				.timeout(Duration.ofSeconds(10))
				.build());
			return status.statusCode() == 200
					&& "done".equals(RealDaprStack.parse(status.body()).path("status").asText());
		}
		catch (Exception ex) {
			return false;
		}
	}

	/** Greetings comms has marked done so far, from its OTLP metrics (each export counts its own step). */
	private static double completions() {
		return sum("greetings.completion");
	}

	/** comms' counter NAME, over the whole run. */
	private static double sum(String name) {
		return real.receiver().metrics().stream()
			.filter(metric -> metric.service().equals("comms") && metric.name().equals(name))
			.mapToDouble(ReceivedMetric::value)
			.sum();
	}

	/** The completions once they reach WANTED, or after 10 s of exports (1 s each) without: what was counted. */
	private static double awaitCompletions(double wanted) throws InterruptedException {
		long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
		while (completions() < wanted && System.nanoTime() < deadline) {
			Thread.sleep(250);
		}
		Thread.sleep(2000); // any completion counted twice would arrive in the next exports
		return completions();
	}

}
