/* stub: to be implemented */
