package com.example.comms.system;

import java.io.IOException;
import java.time.Duration;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.SmartLifecycle;
import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;

/**
 * On shutdown, before Tomcat stops taking requests, comms keeps serving for {@code comms.shutdown.drain}
 * and answers each request with {@code Connection: close}: a client holding a kept-alive connection to
 * this pod (which its Service no longer routes to) reconnects to another pod instead of having its
 * connection cut by Tomcat's stop, a request on it lost.
 */
@Component
class ShutdownDrain extends OncePerRequestFilter implements SmartLifecycle {

	private final Duration drain;

	private volatile boolean running;

	private volatile boolean draining;

	ShutdownDrain(@Value("${comms.shutdown.drain}") Duration drain) {
		this.drain = drain;
	}

	@Override
	protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
			throws ServletException, IOException {
		if (this.draining) {
			response.setHeader(HttpHeaders.CONNECTION, "close");
		}
		chain.doFilter(request, response);
	}

	@Override
	public void start() {
		this.running = true;
	}

	/** Stops first (the highest phase), while the web server still serves. */
	@Override
	public void stop() {
		this.draining = true;
		try {
			Thread.sleep(this.drain);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
		this.running = false;
	}

	@Override
	public boolean isRunning() {
		return this.running;
	}

}
