package com.example.comms.greet;

import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import org.hibernate.validator.constraints.CodePointLength;

/**
 * Body of {@code POST /greet}. The name is trimmed before it is checked, and counted in Unicode
 * code points so that "世界" or an emoji counts as the characters a person sees.
 */
public record GreetRequest(
		@NotNull(message = "is required")
		@CodePointLength(min = 1, max = GreetRequest.MAX_NAME_LENGTH,
				message = "must be 1 to {max} characters after trimming")
		// Control characters, lone surrogates and line/paragraph separators would let a caller forge log lines.
		@Pattern(regexp = "[^\\p{Cc}\\p{Cs}\\p{Zl}\\p{Zp}]*", message = "must not contain control characters")
		String name) {

	public static final int MAX_NAME_LENGTH = 100;

	public GreetRequest {
		name = (name == null) ? null : name.strip();
	}

}
