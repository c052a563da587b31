package com.example.comms.e2e;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Supplier;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * A test class's stack: an OTLP receiver and {@link DaprStack} started before its tests and
 * stopped after them, whatever happened. Register with {@code @RegisterExtension static}.
 */
final class RealDaprStack implements BeforeAllCallback, AfterAllCallback {

	/** One POST /greet: what comms answered, how long it took, and the trace it was sent in. */
	record Greeting(int status, JsonNode reply, Duration took, String traceId, String callerSpanId) {

		boolean fallback() {
			return this.reply.path("fallback").asBoolean();
		}

	}

	private static final ObjectMapper json = new ObjectMapper();

	private final HttpClient http = HttpClient.newHttpClient();

	private OtlpReceiver receiver;

	private DaprStack stack;

	private final boolean greeterStandIn;

	/** Other components than the local run's, asked for when the stack starts; null: the local run's. */
	private final Supplier<DaprStack.Components> components;

	RealDaprStack() {
		this(false, null);
	}

	private RealDaprStack(boolean greeterStandIn, Supplier<DaprStack.Components> components) {
		this.greeterStandIn = greeterStandIn;
		this.components = components;
	}

	/** The stack with a {@link GreeterStandIn} in place of greeter's app: {@code stack().greeterStandIn()}. */
	static RealDaprStack withGreeterStandIn() {
		return new RealDaprStack(true, null);
	}

	/**
	 * The stack on the components COMPONENTS gives as it starts: after the extensions registered before this one
	 * (e.g. the service they use) have started.
	 */
	static RealDaprStack withComponents(Supplier<DaprStack.Components> components) {
		return new RealDaprStack(false, components);
	}

	@Override
	public void beforeAll(ExtensionContext context) throws Exception {
		this.receiver = new OtlpReceiver();
		Path workDir = Path.of(System.getProperty("e2e.workDir"), context.getRequiredTestClass().getSimpleName());
		if (this.components != null) {
			this.stack = DaprStack.startWith(this.receiver.hostPort(), workDir, this.components.get());
		}
		else {
			this.stack = this.greeterStandIn ? DaprStack.startWithGreeterStandIn(this.receiver.hostPort(), workDir)
					: DaprStack.start(this.receiver.hostPort(), workDir);
		}
	}

	@Override
	public void afterAll(ExtensionContext context) {
		if (this.stack != null) {
			this.stack.close();
		}
		if (this.receiver != null) {
			this.receiver.close();
		}
	}

	OtlpReceiver receiver() {
		return this.receiver;
	}

	DaprStack stack() {
		return this.stack;
	}

	/** POST /greet for Ada to comms, as a caller whose own span is the parent, in a new trace. */
	Greeting greet() throws Exception {
		return greet(this.http, this.stack);
	}

	/** POST /greet for Ada to the stack's comms, as a caller whose own span is the parent, in a new trace. */
	static Greeting greet(HttpClient http, DaprStack stack) throws Exception {
		String traceId = Traces.randomHex(16);
		String callerSpanId = Traces.randomHex(8);
		long started = System.nanoTime();
		HttpRequest request = HttpRequest.newBuilder(URI.create(stack.commsUrl("/greet")))
			.header("Content-Type", "application/json")
			.header("traceparent", "00-" + traceId + "-" + callerSpanId + "-01")
			.POST(BodyPublishers.ofString("{\"name\":\"Ada\"}"))
			.timeout(Duration.ofSeconds(30))
			.build();
		HttpResponse<String> response = http.send(request, BodyHandlers.ofString());
		return new Greeting(response.statusCode(), json.readTree(response.body()),
				Duration.ofNanos(System.nanoTime() - started), traceId, callerSpanId);
	}

	static JsonNode parse(String value) throws Exception {
		return json.readTree(value);
	}

}
