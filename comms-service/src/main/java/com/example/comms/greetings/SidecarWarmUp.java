package com.example.comms.greetings;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.ApplicationArguments;
import org.springframework.boot.ApplicationRunner;
import org.springframework.stereotype.Component;

/**
 * The first call through the Dapr client loads gRPC and protobuf and opens its channel, which takes
 * seconds in a JVM that has just started: made once before comms is ready (Spring Boot reports ready
 * once the runners are done), so that no greeting is the first. Its answer does not matter. Off with the
 * rest of the warm-up ({@code comms.warm-up.requests} 0).
 */
@Component
class SidecarWarmUp implements ApplicationRunner {

	private static final Logger log = LoggerFactory.getLogger(SidecarWarmUp.class);

	private final GreetingStore store;

	private final boolean enabled;

	SidecarWarmUp(GreetingStore store, @Value("${comms.warm-up.requests}") int requests) {
		this.store = store;
		this.enabled = requests > 0;
	}

	@Override
	public void run(ApplicationArguments args) {
		if (!this.enabled) {
			return;
		}
		try {
			this.store.find("warm-up");
		}
		catch (SidecarUnavailable ex) {
			log.info("warm-up: the sidecar did not answer a read yet ({}); the first greeting opens the channel",
					ex.getCause() == null ? ex.toString() : ex.getCause().toString());
		}
	}

}
