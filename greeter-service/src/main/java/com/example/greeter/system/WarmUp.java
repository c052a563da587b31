package com.example.greeter.system;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.core.env.Environment;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;

/**
 * greeter reports ready only once warm: a JVM that has just started loads classes and runs its code
 * interpreted, and a burst of first requests then outlasts what comms' sidecar gives an attempt (500 ms),
 * failures that open Dapr's circuit breaker for every greeter pod. So before it is ready (Spring Boot
 * reports ready once the runners are done) greeter serves its own {@code POST /greet} over loopback
 * {@code app.warm-up.requests} times, token and all. These requests are neither traced nor timed.
 */
@Component
class WarmUp implements ApplicationRunner {

	private static final Logger log = LoggerFactory.getLogger(WarmUp.class);

	private final Environment environment;

	private final AppApiToken token;

	private final int requests;

	private volatile boolean warming;

	WarmUp(Environment environment, AppApiToken token, @Value("${app.warm-up.requests}") int requests) {
		this.environment = environment;
		this.token = token;
		this.requests = requests;
	}

	/** True while the warm-up's requests are served: nothing else is, as the app is not ready yet. */
	boolean isWarming() {
		return this.warming;
	}

	@Override
	public void run(ApplicationArguments args) throws InterruptedException {
		String host = this.environment.getProperty("server.address", "127.0.0.1");
		int port = this.environment.getRequiredProperty("local.server.port", Integer.class);
		HttpRequest greet = HttpRequest.newBuilder(URI.create("http://" + host + ":" + port + "/greet"))
			.header(HttpHeaders.CONTENT_TYPE, MediaType.APPLICATION_JSON_VALUE)
			.header(DaprApiTokenFilter.HEADER, this.token.token())
			.timeout(Duration.ofSeconds(10))
			.POST(BodyPublishers.ofString("{\"name\":\"warm-up\"}"))
			.build();
		long started = System.nanoTime();
		this.warming = true;
		try (HttpClient http = HttpClient.newHttpClient()) {
			for (int i = 0; i < this.requests; i++) {
				int status = http.send(greet, BodyHandlers.discarding()).statusCode();
				if (status != 200) {
					log.warn("warm-up stopped after {} requests: POST /greet answered {}", i, status);
					return;
				}
			}
		}
		catch (IOException ex) {
			log.warn("warm-up stopped: {}", ex.toString());
			return;
		}
		finally {
			this.warming = false;
		}
		log.info("warmed up with {} requests in {} ms", this.requests, Duration.ofNanos(System.nanoTime() - started).toMillis());
	}

}
