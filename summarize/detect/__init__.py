"""Language detection: engines (langdetect, fastText, lingua), letter and cue-word evidence, and the
ensemble that weighs them (`detector.make_detector`)."""
