// dcmjs ships no type declarations; this declares only what huren uses.
declare module 'dcmjs' {
  export namespace data {
    /** An element as dcmjs holds it: DICOM JSON-like (PN values are { Alphabetic, … } objects). */
    interface DcmjsElement {
      vr: string;
      Value?: unknown[];
      InlineBinary?: string;
      BulkDataURI?: string;
    }
    type DcmjsDataset = Record<string, DcmjsElement>;
    /** dcmjs's naturalized form: attribute keywords as keys, `_vrMap` for VRs dcmjs can't infer. */
    type NaturalizedDataset = Record<string, unknown>;

    interface ReadFileOptions {
      ignoreErrors?: boolean;
      untilTag?: string | null;
      includeUntilTagValue?: boolean;
      noCopy?: boolean;
      forceStoreRaw?: boolean;
    }
    interface WriteOptions {
      allowInvalidVRLength?: boolean;
      /** Split each encapsulated frame into 20 KB fragments (default true). */
      fragmentMultiframe?: boolean;
    }

    class DicomDict {
      constructor(meta: DcmjsDataset);
      meta: DcmjsDataset;
      dict: DcmjsDataset;
      write(options?: WriteOptions): ArrayBuffer;
    }

    class DicomMessage {
      static readFile(buffer: ArrayBuffer, options?: ReadFileOptions): DicomDict;
    }

    interface DictionaryEntry {
      tag: string;
      vr: string;
      vm: string;
      name: string;
    }

    class DicomMetaDictionary {
      /** Keyed by punctuated tag, e.g. "(0010,0010)"; repeating groups as "(60xx,3000)". */
      static dictionary: Record<string, DictionaryEntry | undefined>;
      static naturalizeDataset(dataset: DcmjsDataset): NaturalizedDataset;
      static denaturalizeDataset(dataset: NaturalizedDataset): DcmjsDataset;
    }
  }

  /** A loglevel logger. */
  interface Logger {
    getLevel(): number;
    setLevel(level: number | 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent', persist?: boolean): void;
    getLogger(name: string): Logger;
  }
  /** dcmjs's root logger; 'validation.dcmjs' is the child it reports dictionary VR oddities to. */
  export const log: Logger;
}
