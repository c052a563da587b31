package com.example.greeter.system;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.Locale;

import org.apache.catalina.Pipeline;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.core.StandardHost;
import org.apache.catalina.valves.ErrorReportValve;
import org.apache.tomcat.util.res.StringManager;
import tools.jackson.databind.ObjectMapper;

import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;

/**
 * Requests Tomcat refuses itself (a malformed request line or header, headers over the size limit,
 * an unsupported HTTP version or transfer coding, TRACE) and errors raised outside Spring MVC are
 * answered by the host's error report valve: here a problem body, not Tomcat's HTML page.
 */
@Configuration(proxyBeanMethods = false)
class TomcatProblemDetailsConfiguration {

	/** Unordered, so it runs after Boot's customizer, which adds Tomcat's HTML valve to the host. */
	@Bean
	WebServerFactoryCustomizer<TomcatServletWebServerFactory> problemDetailsFromTomcat(ObjectMapper json) {
		return factory -> factory.addContextCustomizers(context -> {
			StandardHost host = (StandardHost) context.getParent();
			Pipeline pipeline = host.getPipeline();
			Arrays.stream(pipeline.getValves()).filter(ErrorReportValve.class::isInstance).forEach(pipeline::removeValve);
			pipeline.addValve(new ProblemDetailsValve(json));
			// Else the host adds a default (HTML) one when it starts.
			host.setErrorReportValveClass(ProblemDetailsValve.class.getName());
		});
	}

	static final class ProblemDetailsValve extends ErrorReportValve {

		// Tomcat's one-line descriptions of each status (RFC 9110's words): a detail with no internals.
		private static final StringManager descriptions = StringManager
			.getManager(ErrorReportValve.class.getPackageName(), Locale.ROOT);

		private final ObjectMapper json;

		ProblemDetailsValve(ObjectMapper json) {
			this.json = json;
		}

		@Override
		protected void report(Request request, Response response, Throwable throwable) {
			int status = response.getStatus();
			// As Tomcat's own valve: errors only, once, and only if nothing was written yet.
			if (status < 400 || response.getContentWritten() > 0 || !response.setErrorReported()) {
				return;
			}
			// Tomcat's 501 (CONNECT, a transfer coding other than chunked) and 505 (an HTTP version other than 1.x)
			// answer what the client sent: a 4xx, as all bad input gets; the detail still says what is unsupported.
			int answer = (status == 501 || status == 505) ? 400 : status;
			ProblemDetail problem = ProblemDetail.forStatusAndDetail(HttpStatusCode.valueOf(answer),
					descriptions.getString("http." + status + ".desc"));
			try {
				byte[] body = this.json.writeValueAsBytes(problem);
				response.setStatus(answer);
				response.setContentType(MediaType.APPLICATION_PROBLEM_JSON_VALUE);
				response.setContentLength(body.length);
				OutputStream out = response.getOutputStream();
				out.write(body);
				response.finishResponse();
			}
			catch (IOException | IllegalStateException ex) {
				// The client has gone, or the response was already taken: nothing more to say.
			}
		}

	}

}
