package com.example.comms.e2e;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A real process (an app jar, daprd, Redis) with its output in a log file, that is always stopped:
 * by {@link #close()}, or by a shutdown hook if the test JVM itself goes away.
 */
final class ManagedProcess implements AutoCloseable {

	private static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

	private final String name;

	private final Path log;

	private final Process process;

	private final Thread shutdownHook;

	private ManagedProcess(String name, Path log, Process process) {
		this.name = name;
		this.log = log;
		this.process = process;
		this.shutdownHook = new Thread(this::stop, "stop-" + name);
		Runtime.getRuntime().addShutdownHook(this.shutdownHook);
	}

	static ManagedProcess start(String name, List<String> command, Map<String, String> environment, Path logDir) {
		try {
			Files.createDirectories(logDir);
			Path log = logDir.resolve(name + ".log");
			ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
				.redirectOutput(log.toFile());
			builder.environment().putAll(environment);
			return new ManagedProcess(name, log, builder.start());
		}
		catch (IOException ex) {
			throw new UncheckedIOException("could not start " + name + ": " + command, ex);
		}
	}

	/** Polls the URL until it answers 2xx; fails with the end of the process's log if it never does. */
	ManagedProcess awaitHealthy(String url, Duration timeout) {
		return awaitReady("healthy at " + url, () -> answers(url), timeout);
	}

	/** Waits until the process has written TEXT to its log (e.g. Redis' "Ready to accept connections"). */
	ManagedProcess awaitLog(String text, Duration timeout) {
		return awaitReady("ready (no \"" + text + "\" in its log)", () -> log().contains(text), timeout);
	}

	private ManagedProcess awaitReady(String what, BooleanSupplier ready, Duration timeout) {
		long deadline = System.nanoTime() + timeout.toNanos();
		while (System.nanoTime() < deadline) {
			if (!this.process.isAlive()) {
				throw new IllegalStateException(this.name + " exited with " + this.process.exitValue()
						+ " before it was ready; end of its log:\n" + tail(40));
			}
			if (ready.getAsBoolean()) {
				return this;
			}
			sleep(Duration.ofMillis(250));
		}
		throw new IllegalStateException(
				this.name + " was not " + what + " within " + timeout + "; end of its log:\n" + tail(40));
	}

	String tail(int lines) {
		try {
			List<String> all = Files.readAllLines(this.log, StandardCharsets.UTF_8);
			return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
		}
		catch (IOException | UncheckedIOException ex) {
			return "(no log: " + ex.getMessage() + ")";
		}
	}

	String log() {
		try {
			return Files.readString(this.log, StandardCharsets.UTF_8);
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	/** SIGKILL: no shutdown of its own. Its log is kept as NAME.killed.log, beside the next one's. */
	void kill() throws IOException, InterruptedException {
		this.process.destroyForcibly().waitFor();
		Files.move(this.log, this.log.resolveSibling(this.log.getFileName().toString().replace(".log", ".killed.log")),
				StandardCopyOption.REPLACE_EXISTING);
	}

	long pid() {
		return this.process.pid();
	}

	@Override
	public void close() {
		stop();
		try {
			Runtime.getRuntime().removeShutdownHook(this.shutdownHook);
		}
		catch (IllegalStateException alreadyShuttingDown) {
			// the hook is running or has run
		}
	}

	private void stop() {
		if (!this.process.isAlive()) {
			return;
		}
		this.process.destroy();
		try {
			if (!this.process.waitFor(15, TimeUnit.SECONDS)) {
				this.process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
			}
		}
		catch (InterruptedException ex) {
			this.process.destroyForcibly();
			Thread.currentThread().interrupt();
		}
	}

	private static boolean answers(String url) {
		try {
			int status = http
				.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(2)).GET().build(),
						BodyHandlers.discarding())
				.statusCode();
			return status >= 200 && status < 300;
		}
		catch (IOException ex) {
			return false;
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			return false;
		}
	}

	private static void sleep(Duration duration) {
		try {
			Thread.sleep(duration);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

}
