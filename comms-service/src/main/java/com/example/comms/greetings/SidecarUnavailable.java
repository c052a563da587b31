package com.example.comms.greetings;

import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.ProblemDetail;
import org.springframework.web.ErrorResponseException;

/**
 * The sidecar, or the component behind it, failed or did not answer in time: a 503 problem, which a
 * client may retry in a second and on which daprd delivers an event again.
 */
final class SidecarUnavailable extends ErrorResponseException {

	SidecarUnavailable(String detail, Throwable cause) {
		super(HttpStatus.SERVICE_UNAVAILABLE, ProblemDetail.forStatusAndDetail(HttpStatus.SERVICE_UNAVAILABLE, detail),
				cause);
		setTitle("Service Unavailable");
		getHeaders().set(HttpHeaders.RETRY_AFTER, "1");
	}

}
