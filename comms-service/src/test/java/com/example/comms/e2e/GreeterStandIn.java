package com.example.comms.e2e;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * Stands where greeter's app would be, behind greeter's real sidecar, so a test can make greeter slow
 * or failing on demand: {@code POST /greet} answered as greeter answers it, only with the app API
 * token its sidecar sends in {@code dapr-api-token}; it counts the calls to {@code /greet} it gets.
 */
final class GreeterStandIn implements AutoCloseable {

	private static final ObjectMapper json = new ObjectMapper();

	private final HttpServer server;

	// Slow calls overlap (the sidecar's next attempt comes while the last one still sleeps).
	private final ExecutorService executor = Executors.newCachedThreadPool();

	private final String appToken;

	private final AtomicInteger calls = new AtomicInteger();

	private volatile Duration delay = Duration.ZERO;

	private volatile boolean failing;

	GreeterStandIn(int port, String appToken) {
		this.appToken = appToken;
		try {
			this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
		}
		catch (IOException ex) {
			throw new UncheckedIOException("greeter's stand-in cannot listen on 127.0.0.1:" + port, ex);
		}
		this.server.setExecutor(this.executor);
		this.server.createContext("/greet", this::greet);
		this.server.start();
	}

	/** Answers at once, as greeter does. */
	void fine() {
		this.failing = false;
		this.delay = Duration.ZERO;
	}

	/** Answers, but only after DELAY. */
	void slow(Duration delay) {
		this.failing = false;
		this.delay = delay;
	}

	/** Answers 500, as greeter does when it breaks. */
	void failing() {
		this.delay = Duration.ZERO;
		this.failing = true;
	}

	/** Calls to /greet received so far. */
	int calls() {
		return this.calls.get();
	}

	private void greet(HttpExchange exchange) throws IOException {
		try (exchange) {
			this.calls.incrementAndGet();
			if (!this.appToken.equals(exchange.getRequestHeaders().getFirst("dapr-api-token"))) {
				problem(exchange, 401, "Unauthorized");
				return;
			}
			if (!"POST".equals(exchange.getRequestMethod()) || !"/greet".equals(exchange.getRequestURI().getPath())) {
				problem(exchange, 404, "Not Found");
				return;
			}
			JsonNode request = json.readTree(exchange.getRequestBody());
			sleep(this.delay);
			if (this.failing) {
				problem(exchange, 500, "Internal Server Error");
				return;
			}
			ObjectNode reply = json.createObjectNode()
				.put("message", "Hello, " + request.path("name").asText() + "!")
				.put("service", "greeter");
			send(exchange, 200, "application/json", json.writeValueAsBytes(reply));
		}
	}

	private static void problem(HttpExchange exchange, int status, String title) throws IOException {
		ObjectNode body = json.createObjectNode().put("type", "about:blank").put("title", title).put("status", status);
		send(exchange, status, "application/problem+json", json.writeValueAsBytes(body));
	}

	private static void send(HttpExchange exchange, int status, String contentType, byte[] body) throws IOException {
		exchange.getResponseHeaders().set("Content-Type", contentType);
		exchange.sendResponseHeaders(status, body.length);
		exchange.getResponseBody().write(body);
	}

	private static void sleep(Duration duration) {
		try {
			Thread.sleep(duration);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	@Override
	public void close() {
		this.server.stop(0);
		this.executor.shutdownNow();
	}

}
