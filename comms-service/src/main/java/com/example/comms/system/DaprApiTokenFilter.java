package com.example.comms.system;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.servlet.filter.OrderedFormContentFilter;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.servlet.HandlerExceptionResolver;

/**
 * Only comms' own Dapr sidecar may deliver events: a request to {@code /events/**} without the
 * sidecar's token gets a 401 before anything reads its body. The rest of comms' API stays open.
 */
@Component
@Order(OrderedFormContentFilter.DEFAULT_ORDER - 1) // after tracing (refusals are seen), before any filter reads a body
class DaprApiTokenFilter extends OncePerRequestFilter {

	static final String HEADER = "dapr-api-token";

	private final HandlerExceptionResolver exceptionResolver;

	private final byte[] expected;

	DaprApiTokenFilter(@Qualifier("handlerExceptionResolver") HandlerExceptionResolver exceptionResolver,
			AppApiToken token) {
		this.exceptionResolver = exceptionResolver;
		this.expected = token.token().getBytes(StandardCharsets.UTF_8);
	}

	/**
	 * The servlet path, decoded and without path parameters, as Spring MVC matches it: "/%65vents/…"
	 * or "/events;x/…" reach the event routes too, so they must not pass by unguarded.
	 */
	@Override
	protected boolean shouldNotFilter(HttpServletRequest request) {
		String path = request.getServletPath();
		return !(path.equals("/events") || path.startsWith("/events/"));
	}

	@Override
	protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
			throws ServletException, IOException {
		String given = request.getHeader(HEADER);
		// Tomcat reads header bytes as ISO-8859-1: this gives back the bytes the sidecar sent.
		// MessageDigest.isEqual takes the same time wherever the first difference is.
		if (given == null || !MessageDigest.isEqual(this.expected, given.getBytes(StandardCharsets.ISO_8859_1))) {
			// Neither the token nor the header's value is logged, here or by the problem body.
			this.exceptionResolver.resolveException(request, response, null,
					new ResponseStatusException(HttpStatus.UNAUTHORIZED, "A valid " + HEADER + " header is required"));
			return;
		}
		chain.doFilter(request, response);
	}

}
