package com.example.comms.system;

import java.io.IOException;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.servlet.HandlerExceptionResolver;
import org.springframework.web.util.ContentCachingRequestWrapper;

/**
 * Answers 413 to a body over the limit: at once when Content-Length says so, and while reading
 * when the body is chunked, so no more than the limit is ever held in memory.
 */
@Component
class RequestBodyLimitFilter extends OncePerRequestFilter {

	private final HandlerExceptionResolver exceptionResolver;

	private final int maxBodyBytes;

	RequestBodyLimitFilter(@Qualifier("handlerExceptionResolver") HandlerExceptionResolver exceptionResolver,
			RequestLimits limits) {
		this.exceptionResolver = exceptionResolver;
		this.maxBodyBytes = Math.toIntExact(limits.maxBody().toBytes());
	}

	@Override
	protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
			throws ServletException, IOException {
		if (request.getContentLengthLong() > this.maxBodyBytes) {
			// Rendered by the same @RestControllerAdvice as every other error, so the body is a ProblemDetail.
			this.exceptionResolver.resolveException(request, response, null, tooLarge());
			return;
		}
		chain.doFilter(new LimitedBodyRequest(request, this.maxBodyBytes), response);
	}

	private ResponseStatusException tooLarge() {
		return new ResponseStatusException(HttpStatus.CONTENT_TOO_LARGE,
				"Request body must not exceed " + this.maxBodyBytes + " bytes");
	}

	private final class LimitedBodyRequest extends ContentCachingRequestWrapper {

		LimitedBodyRequest(HttpServletRequest request, int limit) {
			super(request, limit);
		}

		@Override
		protected void handleContentOverflow(int contentCacheLimit) {
			throw tooLarge();
		}

	}

}
