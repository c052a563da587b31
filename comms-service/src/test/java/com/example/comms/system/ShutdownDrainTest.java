package com.example.comms.system;

import java.time.Duration;

import org.junit.jupiter.api.Test;

import org.springframework.mock.web.MockFilterChain;
import org.springframework.mock.web.MockHttpServletRequest;
import org.springframework.mock.web.MockHttpServletResponse;

import static org.assertj.core.api.Assertions.assertThat;

class ShutdownDrainTest {

	@Test
	void keepsServingForTheDrainWithConnectionCloseThenStops() throws Exception {
		ShutdownDrain drain = new ShutdownDrain(Duration.ofMillis(500));
		drain.start();
		assertThat(serve(drain).getHeader("Connection")).as("before shutdown").isNull();

		long started = System.nanoTime();
		Thread stopping = new Thread(drain::stop);
		stopping.start();
		MockHttpServletResponse during = serve(drain);
		while (during.getHeader("Connection") == null && stopping.isAlive()) {
			during = serve(drain);
		}
		assertThat(during.getHeader("Connection")).as("while draining").isEqualTo("close");
		assertThat(during.getStatus()).as("still served").isEqualTo(200);

		stopping.join();
		assertThat(Duration.ofNanos(System.nanoTime() - started)).isGreaterThanOrEqualTo(Duration.ofMillis(500));
		assertThat(drain.isRunning()).isFalse();
	}

	private static MockHttpServletResponse serve(ShutdownDrain drain) throws Exception {
		MockHttpServletResponse response = new MockHttpServletResponse();
		drain.doFilter(new MockHttpServletRequest("POST", "/greet"), response, new MockFilterChain());
		return response;
	}

}
